import csv
import os

import jinja2
import yaml


def ranked(totals):
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def write_counts(out_dir, totals):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "counts.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["word", "count"])
        w.writerows(ranked(totals))


def write_report(out_dir, totals, per_file, top):
    env = jinja2.Environment(loader=jinja2.PackageLoader("wordcount_lib", "templates"),
                             keep_trailing_newline=True)
    text = env.get_template("report.md.j2").render(
        top=ranked(totals)[:top], n=top, files=sorted(per_file.items()),
        total=sum(totals.values()), distinct=len(totals))
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out_dir, "summary.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({"files": len(per_file), "words": sum(totals.values()),
                        "distinct": len(totals),
                        "top": [{"word": w, "count": c} for w, c in ranked(totals)[:top]]},
                       f, sort_keys=True, allow_unicode=True)
