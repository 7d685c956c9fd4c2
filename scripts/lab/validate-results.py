"""Validates the results `make test` leaves, with the CI world's own readers.

    $CI_PYTHON scripts/lab/validate-results.py FILE...

A `.xml` file is read as JUnit by junitparser: one line per file, `FILE: junit: N tests, N
passed, N failed, N skipped` (a case with a failure or an error failed). A `.json` file is
validated as a KCIDB document against the schema version it declares, by kcidb-io (exactly that
version: no upgrade from an older one): `FILE: kcidb 5.3: N checkouts, N builds, N tests`. Exits
1 at the first file that is not valid, saying why. The CI tools' environment
(scripts/setup/setup-host.sh --ci) has both readers.
"""

import json
import sys

import junitparser
import kcidb_io


def junit(path):
    xml = junitparser.JUnitXml.fromfile(path)
    suites = [xml] if isinstance(xml, junitparser.TestSuite) else list(xml)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for suite in suites:
        for case in suite:
            if case.is_skipped:
                counts["skipped"] += 1
            elif case.is_passed:
                counts["passed"] += 1
            else:
                counts["failed"] += 1
    total = sum(counts.values())
    return (f"junit: {total} tests, {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped")


def kcidb(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    version = data.get("version", {})
    schema = next((v for v in kcidb_io.schema.LATEST.history
                   if (v.major, v.minor) == (version.get("major"), version.get("minor"))), None)
    if schema is None:
        raise ValueError(f"no KCIDB schema version {version}")
    schema.validate_exactly(data)
    return (f"kcidb {schema.major}.{schema.minor}: {len(data.get('checkouts', []))} checkouts, "
            f"{len(data.get('builds', []))} builds, {len(data.get('tests', []))} tests")


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in paths:
        try:
            what = kcidb(path) if path.endswith(".json") else junit(path)
        except Exception as e:  # any reader's error: the file is not valid
            print(f"{path}: not valid: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        print(f"{path}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
