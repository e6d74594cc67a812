"""Count words in every text file under INPUT_DIR.

python main.py -i INPUT_DIR -o OUTPUT_DIR [--top N] [--min-length N]
Writes counts.csv, report.md (top words) and summary.yaml.  A file named FAIL
in the input makes it stop with status 3 after writing partial results.
"""
import argparse
import sys

from wordcount_lib import counting, report


def main(argv=None):
    ap = argparse.ArgumentParser(description="word counts")
    ap.add_argument("-i", "--input", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--min-length", type=int, default=1)
    a = ap.parse_args(argv)
    files = counting.text_files(a.input)
    print("wordcount: %d input files" % len(files))
    totals, per_file = counting.count_files(a.input, files, a.min_length)
    for name, n in per_file.items():
        print("  %s: %d words" % (name, n))
    report.write_counts(a.output, totals)
    if counting.has_fail_marker(files):
        print("wordcount: input contains a FAIL marker, stopping", file=sys.stderr)
        return 3
    report.write_report(a.output, totals, per_file, a.top)
    print("wordcount: %d distinct words, top %d written" % (len(totals), a.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
