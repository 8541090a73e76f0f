// TCP echo client (Streams): connects to 127.0.0.1, sends 'Hello World!',
// prints what the server sends back, and closes the connection. Run it
// against //samples:echo_server. The port is the first command-line
// argument (default 8888). Output:
//
//   Send: 'Hello World!'
//   Received: 'Hello World!'
//   Close the connection
//
// The seed's Python:
//
//   import asyncio
//
//   async def tcp_echo_client(message):
//       reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
//       print(f'Send: {message!r}')
//       writer.write(message.encode())
//       await writer.drain()
//       data = await reader.read(100)
//       print(f'Received: {data.decode()!r}')
//       print('Close the connection')
//       writer.close()
//       await writer.wait_closed()
//
//   asyncio.run(tcp_echo_client('Hello World!'))
#include <cstdio>
#include <cstdlib>
#include <string>

#include "asyncio/asyncio.h"
#include "py_repr.h"

asyncio::Future<void> tcp_echo_client(std::string message, int port) {
  // reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
  return asyncio::open_connection("127.0.0.1", port)
      .then([message](asyncio::StreamPair rw) {
        auto [reader, writer] = rw;
        std::printf("Send: %s\n", py_repr(message).c_str());
        writer.write(message);                      // writer.write(message.encode())
        return writer.drain()                       // await writer.drain()
            .then([reader] { return reader.read(100); })  // data = await reader.read(100)
            .then([writer](const std::string& data) {
              std::printf("Received: %s\n", py_repr(data).c_str());
              std::printf("Close the connection\n");
              writer.close();               // writer.close()
              return writer.wait_closed();  // await writer.wait_closed()
            });
      });
}

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8888;
  asyncio::run([port] { return tcp_echo_client("Hello World!", port); });
}
