import os

import yaml


def write_file_stats(out_dir, rel, result):
    path = os.path.join(out_dir, "stats", rel[:-4] + ".yaml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump({"file": rel, "columns": result}, f, sort_keys=True, allow_unicode=True)


def write_summary(out_dir, results, bad):
    os.makedirs(out_dir, exist_ok=True)
    lines = ["%d CSV files analysed, %d rejected" % (len(results), len(bad))]
    for rel, cols in sorted(results.items()):
        kinds = ", ".join("%s:%s" % (n, c["type"]) for n, c in cols.items())
        lines.append("%s: %s" % (rel, kinds))
    for rel in bad:
        lines.append("%s: REJECTED" % rel)
    with open(os.path.join(out_dir, "summary.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
