// TCP echo server (Streams): listens on 127.0.0.1, and for each connection
// reads up to 100 bytes, prints them with the peer's address, sends them
// back and closes the connection. It serves until it is killed. The port
// is the first command-line argument (default 8888; 0 binds an ephemeral
// port); it prints the port it really bound. Output, with one client:
//
//   Serving on ('127.0.0.1', 8888)
//   Received 'Hello World!' from ('127.0.0.1', 51234)
//   Send: 'Hello World!'
//   Close the connection
//
// The seed's Python:
//
//   import asyncio
//
//
//   async def handle_echo(reader, writer):
//       data = await reader.read(100)
//       message = data.decode()
//       addr = writer.get_extra_info('peername')
//       print(f"Received {message!r} from {addr!r}")
//       print(f"Send: {message!r}")
//       writer.write(data)
//       await writer.drain()
//       print("Close the connection")
//       writer.close()
//
//
//   async def main():
//       server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
//       addr = server.sockets[0].getsockname()
//       print(f'Serving on {addr}')
//       async with server:
//           await server.serve_forever()
//
//   asyncio.run(main())
#include <any>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "asyncio/asyncio.h"
#include "py_repr.h"

asyncio::Future<void> handle_echo(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
  return reader.read(100)  // data = await reader.read(100)
      .then([writer](const std::string& data) {
        // addr = writer.get_extra_info('peername')
        auto addr = std::any_cast<asyncio::SocketAddress>(writer.get_extra_info("peername"));
        std::printf("Received %s from %s\n", py_repr(data).c_str(), addr.to_string().c_str());
        std::printf("Send: %s\n", py_repr(data).c_str());
        writer.write(data);      // writer.write(data)
        return writer.drain();   // await writer.drain()
      })
      .then([writer] {
        std::printf("Close the connection\n");
        writer.close();  // writer.close()
      });
}

asyncio::Future<void> main_(int port) {
  // server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
  return asyncio::start_server(handle_echo, "127.0.0.1", port)
      .then([](asyncio::Server server) {
        // addr = server.sockets[0].getsockname()
        std::printf("Serving on %s\n", server.sockets().at(0).to_string().c_str());
        // async with server: await server.serve_forever()
        return server.serve_forever().finally([server] { server.close(); });
      });
}

int main(int argc, char** argv) {
  // Line-buffered, so that a pipe sees each line as it is printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int port = argc > 1 ? std::atoi(argv[1]) : 8888;
  asyncio::run([port] { return main_(port); });
}
