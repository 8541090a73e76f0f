#!/usr/bin/env bash
# The version is written once, in include/asyncio/version.h; MODULE.bazel
# repeats it and CHANGELOG.md has a section for it. Checks that they agree.
# Usage: version_test.sh VERSION_H MODULE_BAZEL CHANGELOG_MD
set -euo pipefail
header="$1" module="$2" changelog="$3"

field() {
  sed -n "s/^#define ASYNCIO_VERSION_$1 \\(.*\\)$/\\1/p" "$header"
}
major=$(field MAJOR)
minor=$(field MINOR)
patch=$(field PATCH)
string=$(field STRING | tr -d '"')
version="$major.$minor.$patch"
failed=0

if [ -z "$major" ] || [ -z "$minor" ] || [ -z "$patch" ]; then
  echo "FAIL: $header lacks ASYNCIO_VERSION_MAJOR/MINOR/PATCH"
  exit 1
fi
if [ "$string" != "$version" ]; then
  echo "FAIL: ASYNCIO_VERSION_STRING is \"$string\", the numbers say $version"
  failed=1
fi
module_version=$(sed -n 's/^ *version = "\(.*\)",$/\1/p' "$module" | head -n 1)
if [ "$module_version" != "$version" ]; then
  echo "FAIL: MODULE.bazel says version \"$module_version\", version.h $version"
  failed=1
fi
if ! grep -q "^## \[$version\]" "$changelog"; then
  echo "FAIL: CHANGELOG.md has no \"## [$version]\" section"
  failed=1
fi
[ "$failed" -eq 0 ] && echo "version $version: version.h, MODULE.bazel and CHANGELOG.md agree"
exit "$failed"
