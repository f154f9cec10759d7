#!/usr/bin/env python3
"""Run the package's tests with Django's own test runner: python3 runtests.py [test labels].

Ends with one line "django: N passed, N failed, N skipped" and exits non-zero on any failure."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(labels):
    sys.path.insert(0, HERE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.conf import settings
    from django.test.utils import get_runner

    django.setup()
    runner_class = get_runner(settings)

    class CountingRunner(runner_class):
        def run_suite(self, suite, **kwargs):
            self.result = super().run_suite(suite, **kwargs)
            return self.result

    runner = CountingRunner(verbosity=int(os.environ.get("VERBOSITY", "1")))
    failures = runner.run_tests(labels or ["tests"])
    result = getattr(runner, "result", None)
    if result is None:  # the run stopped before the suite (e.g. an import error)
        print("django: 0 passed, 1 failed, 0 skipped")
        return 1
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped) + len(result.expectedFailures)
    passed = result.testsRun - failed - skipped
    print("Django %s on Python %s" % (django.get_version(), sys.version.split()[0]))
    print("django: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failures or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
