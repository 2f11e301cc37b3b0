"""The Python seed Lambda's report work, for scripts/seed-compare.sh (issue #17).

Provenance: the seed is the handler in the blog post /work/shared/seed/000_4348261056524154.txt
(a Python 3.8 Lambda: S3 GetObject, then ``json.loads`` of the whole body and a loop over
``reportItems`` printing each ``NON_COMPLIANT`` control, then one SNS publish). Only its parse
and loop are reproduced here, as the post writes them; the S3 read becomes a local file read and
the SNS publish is left out. boto3 is imported as the handler does, outside the timed part.

Usage: python3 seed_parse_loop.py REPORT.json   (the prints go to stdout; send them to /dev/null)
Prints one line to stderr: the CPU seconds (time.process_time) of the parse + loop, the item
count and the non-compliant count.
"""

import json
import sys
import time

import boto3  # noqa: F401  (the handler imports it; its import cost is not timed)


def parse_and_loop(body):
    # As the seed: decode the whole body, json.loads it, walk reportItems.
    report = json.loads(body.decode("utf-8"))
    is_compliant = True
    flagged = 0
    for item in report["reportItems"]:
        if item["controlComplianceStatus"] == "NON_COMPLIANT":
            is_compliant = False
            flagged += 1
            print("not comliant for %s of %s" % (item["controlName"], item["frameworkName"]))
    return len(report["reportItems"]), flagged, is_compliant


def main():
    with open(sys.argv[1], "rb") as f:
        start = time.process_time()
        body = f.read()
        items, flagged, _ = parse_and_loop(body)
        cpu = time.process_time() - start
    sys.stdout.flush()
    print(f"cpu_s={cpu:.3f} items={items} non_compliant={flagged}", file=sys.stderr)


if __name__ == "__main__":
    main()
