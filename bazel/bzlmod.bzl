"""Under Bzlmod (MODULE.bazel, Bazel 7/8): the repositories BUILD files name.

The BUILD files depend on "@libevent", "@abseil" and "@googletest//:gtest",
the names asyncio_deps() gives the system libraries in WORKSPACE mode. Under
Bzlmod the libraries come from the Bazel Central Registry instead, and this
extension makes two small repositories under the WORKSPACE names whose
targets forward to the registry's modules (googletest keeps its name and
targets in both worlds). Untested here: only Bazel 4.2.3 installs offline on
the machine this project is built on, and it ignores MODULE.bazel.
"""

_LIBEVENT_BUILD = """\
cc_library(
    name = "libevent",
    visibility = ["//visibility:public"],
    deps = [
        "@libevent_bcr//:event_core",
        "@libevent_bcr//:event_pthreads",
    ],
)
"""

_ABSEIL_BUILD = """\
cc_library(
    name = "abseil",
    visibility = ["//visibility:public"],
    deps = [
        "@abseil-cpp//absl/container:inlined_vector",
        "@abseil-cpp//absl/functional:any_invocable",
        "@abseil-cpp//absl/functional:function_ref",
    ],
)
"""

def _forwarding_repo_impl(rctx):
    rctx.file("WORKSPACE", "")
    rctx.file("BUILD.bazel", rctx.attr.build)

_forwarding_repo = repository_rule(
    implementation = _forwarding_repo_impl,
    attrs = {"build": attr.string(mandatory = True)},
)

def _asyncio_registry_shims_impl(mctx):
    # Repositories an extension makes see what this module sees, so the
    # labels above resolve to this module's bazel_deps.
    _forwarding_repo(name = "libevent", build = _LIBEVENT_BUILD)
    _forwarding_repo(name = "abseil", build = _ABSEIL_BUILD)

asyncio_registry_shims = module_extension(
    implementation = _asyncio_registry_shims_impl,
)
