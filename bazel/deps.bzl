"""Repositories the asyncio library needs, for its own WORKSPACE and for yours.

A consumer workspace takes the library in with two calls:

    local_repository(name = "asyncio", path = "/path/to/asyncio")
    load("@asyncio//bazel:deps.bzl", "asyncio_deps")
    asyncio_deps()

and then depends on "@asyncio//:asyncio". The library's own WORKSPACE calls
asyncio_deps() and asyncio_dev_deps() (what its tests and benchmarks need).

Everything here is offline: the system libraries come from Debian's -dev
packages (libevent-dev, libabsl-dev; for the dev repositories libgtest-dev,
libgmock-dev, libbenchmark-dev, libcapnp-dev), and the three repositories
Bazel 4.2.3 would otherwise download on any C++ build are generated
stand-ins that forward to Bazel's native rules.

A repository that the workspace already declared under the same name is left
alone, so a consumer can point "libevent" or "abseil" somewhere else by
declaring it before the call.
"""

# Bazel 4.2.3's @bazel_tools loads @rules_cc//cc:defs.bzl (cc_library,
# cc_toolchain, cc_toolchain_suite) and @rules_java//java:defs.bzl
# (java_import, java_runtime, java_toolchain); its test rules name
# @remote_coverage_tools targets as implicit dependencies. Debian's
# bazel-rules-cc package is too new for this Bazel and fails to load.
_RULES_CC_DEFS = """\"\"\"Offline stand-in for @rules_cc//cc:defs.bzl: forwards to native rules.\"\"\"

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)
"""

_RULES_JAVA_DEFS = """\"\"\"Offline stand-in for @rules_java//java:defs.bzl: forwards to native rules.\"\"\"

def java_binary(**kwargs):
    native.java_binary(**kwargs)

def java_import(**kwargs):
    native.java_import(**kwargs)

def java_library(**kwargs):
    native.java_library(**kwargs)

def java_proto_library(**kwargs):
    native.java_proto_library(**kwargs)

def java_runtime(**kwargs):
    native.java_runtime(**kwargs)

def java_toolchain(**kwargs):
    native.java_toolchain(**kwargs)
"""

_REMOTE_COVERAGE_TOOLS_BUILD = """package(default_visibility = ["//visibility:public"])

# Coverage is not collected; the targets only have to exist.
filegroup(name = "coverage_report_generator")

filegroup(name = "lcov_merger")
"""

def _stand_in_impl(rctx):
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    rctx.file("BUILD.bazel", rctx.attr.root_build)
    for path, content in rctx.attr.files.items():
        rctx.file(path, content)

# A repository made of the given files, written in place (no download).
_stand_in = repository_rule(
    implementation = _stand_in_impl,
    attrs = {
        "root_build": attr.string(default = ""),
        "files": attr.string_dict(),
    },
    local = True,
)

def _libs(*names):
    return ["-l" + n for n in names] + ["-pthread"]

# Abseil links as many small libraries, users before what they use.
_ABSEIL_LIBS = _libs(
    "absl_synchronization",
    "absl_graphcycles_internal",
    "absl_symbolize",
    "absl_demangle_internal",
    "absl_stacktrace",
    "absl_debugging_internal",
    "absl_malloc_internal",
    "absl_time",
    "absl_time_zone",
    "absl_civil_time",
    "absl_str_format_internal",
    "absl_strings",
    "absl_strings_internal",
    "absl_int128",
    "absl_throw_delegate",
    "absl_base",
    "absl_spinlock_wait",
    "absl_raw_logging_internal",
    "absl_log_severity",
)

def _system_library(name, include_dir, libraries):
    """A repository holding one cc_library per entry of `libraries`.

    The headers are in /usr/include, which the auto-configured toolchain
    already searches, so each target only links. `libraries` maps a target
    name to its linkopts.
    """
    if native.existing_rule(name):
        return
    build = ""
    for target, linkopts in libraries.items():
        build += """
cc_library(
    name = "{target}",
    linkopts = {linkopts},
    visibility = ["//visibility:public"],
)
""".format(target = target, linkopts = repr(linkopts))
    native.new_local_repository(
        name = name,
        path = include_dir,
        build_file_content = build,
    )

def _maybe_stand_in(name, **kwargs):
    if not native.existing_rule(name):
        _stand_in(name = name, **kwargs)

def asyncio_deps():
    """Declares what @asyncio//:asyncio needs: libevent, abseil, stand-ins."""
    _maybe_stand_in(
        name = "rules_cc",
        files = {"cc/BUILD.bazel": "", "cc/defs.bzl": _RULES_CC_DEFS},
    )
    _maybe_stand_in(
        name = "rules_java",
        files = {"java/BUILD.bazel": "", "java/defs.bzl": _RULES_JAVA_DEFS},
    )
    _maybe_stand_in(
        name = "remote_coverage_tools",
        root_build = _REMOTE_COVERAGE_TOOLS_BUILD,
    )

    # Debian 12: libevent-dev.
    _system_library("libevent", "/usr/include/event2", {
        "libevent": _libs("event_core", "event_pthreads"),
    })

    # Debian 12: libabsl-dev.
    _system_library("abseil", "/usr/include/absl", {
        "abseil": _ABSEIL_LIBS,
    })

def asyncio_dev_deps():
    """Declares what the library's tests and benchmarks need besides."""

    # Debian 12: libgtest-dev, libgmock-dev.
    _system_library("googletest", "/usr/include/gtest", {
        "gtest": _libs("gmock", "gtest"),
        "gtest_main": _libs("gmock", "gtest_main", "gtest"),
    })

    # Debian 12: libbenchmark-dev.
    _system_library("benchmark", "/usr/include/benchmark", {
        "benchmark": _libs("benchmark"),
    })

    # Debian 12: libcapnp-dev. Cap'n Proto's KJ async library, the peer the
    # benchmarks measure beside this library.
    _system_library("kj", "/usr/include/kj", {
        "kj": _libs("kj-async", "kj"),
    })
