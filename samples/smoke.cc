#include "asyncio/asyncio.h"
#include <iostream>
asyncio::Future<void> a() { std::cout << "A: started\n"; return asyncio::sleep(0.2).then([] { std::cout << "A: finished\n"; }); }
asyncio::Future<void> b() { std::cout << "B: started\n"; return asyncio::sleep(0.1).then([] { std::cout << "B: finished\n"; }); }
int main() {
  asyncio::run([] {
    auto t1 = asyncio::create_task(a);
    auto t2 = asyncio::create_task(b);
    return t1.then([t2] { return t2; }).then([]{ return 42; });
  });
  int x = asyncio::run([] { return asyncio::sleep(0.01, 7).then([](int v) { return v * 6; }); });
  std::cout << x << "\n";
}
