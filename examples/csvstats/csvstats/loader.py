import csv
import os


class BadCsv(Exception):
    pass


def csv_files(root):
    out = []
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in names:
            if n.lower().endswith(".csv"):
                out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise BadCsv("empty file")
    header, body = rows[0], rows[1:]
    for n, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise BadCsv("line %d has %d fields, expected %d" % (n, len(row), len(header)))
    return header, body
