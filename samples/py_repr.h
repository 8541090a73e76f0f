// py_repr: Python's repr() of a str (quoted, with the usual escapes), for
// the samples that print what the seed prints with {message!r}.
#ifndef ASYNCIO_SAMPLES_PY_REPR_H_
#define ASYNCIO_SAMPLES_PY_REPR_H_

#include <string>

inline std::string py_repr(const std::string& s) {
  const char quote =
      (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out + quote;
}

#endif  // ASYNCIO_SAMPLES_PY_REPR_H_
