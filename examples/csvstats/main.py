"""Per-column statistics of every CSV file under INPUT_DIR.

python main.py -i INPUT_DIR -o OUTPUT_DIR [--precision N]
Writes stats/<file>.yaml for each CSV (numeric, date and text columns) and
summary.txt.  A malformed CSV (rows of the wrong width) makes it exit 2 after
writing the statistics of the other files.
"""
import argparse
import os
import sys

from csvstats import loader, stats, output


def main(argv=None):
    ap = argparse.ArgumentParser(description="CSV column statistics")
    ap.add_argument("-i", "--input", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--precision", type=int, default=4)
    a = ap.parse_args(argv)
    bad = []
    results = {}
    for rel in loader.csv_files(a.input):
        try:
            header, rows = loader.read_csv(os.path.join(a.input, rel))
        except loader.BadCsv as e:
            print("csvstats: %s: %s" % (rel, e), file=sys.stderr)
            bad.append(rel)
            continue
        results[rel] = stats.describe(header, rows, a.precision)
        output.write_file_stats(a.output, rel, results[rel])
        print("csvstats: %s: %d rows, %d columns" % (rel, len(rows), len(header)))
    output.write_summary(a.output, results, bad)
    return 2 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
