#!/usr/bin/env bash
# The Django integration's tests (integrations/django), run by `npm test` after the worker's.
# Finds a Python that imports Django (Debian's python3-django is /usr/bin/python3's); without one
# it says so and succeeds, so `npm test` works on machines without Django. With one: Django's own
# test runner (unit tests, and the end-to-end test through wrangler dev), then a packaging check
# (pip install into a fresh virtualenv, and a wheel build), all offline.
set -uo pipefail
cd "$(dirname "$0")/.."
PKG=integrations/django

py=""
for candidate in /usr/bin/python3 python3 python; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import django" >/dev/null 2>&1; then
    py=$(command -v "$candidate")
    break
  fi
done
if [ -z "$py" ]; then
  echo "Django tests SKIPPED: no Python with Django importable (apt-get install python3-django)"
  exit 0
fi
echo "Django tests with $py (Django $("$py" -c 'import django; print(django.get_version())'))"

package_check() {
  if ! "$py" -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "packaging check SKIPPED: $py has no venv/ensurepip (apt-get install python3-venv)"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  cp -r "$PKG" "$tmp/src"
  rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
  "$py" -m venv --system-site-packages "$tmp/venv" >/dev/null &&
    "$tmp/venv/bin/pip" install -q --no-build-isolation --no-index "$tmp/src" &&
    (cd "$tmp" && venv/bin/python -c "import edge_cache, edge_cache.apps, django; assert 'src' not in edge_cache.__file__") &&
    "$tmp/venv/bin/pip" wheel -q --no-build-isolation --no-index --no-deps -w "$tmp/dist" "$tmp/src" &&
    ls "$tmp"/dist/django_edge_cache-*.whl >/dev/null || { echo "packaging check FAILED"; return 1; }
  echo "packaging check: pip install into a fresh virtualenv and a wheel build work"
}

package_check
packaging=$?
"$py" "$PKG/runtests.py"  # ends with "django: N passed, N failed, N skipped"
tests=$?
if [ "$tests" -ne 0 ] || [ "$packaging" -ne 0 ]; then
  echo "Django tests FAILED"
  exit 1
fi
