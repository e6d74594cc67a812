import statistics

from dateutil import parser as dateparser


def _number(v):
    try:
        return float(v)
    except ValueError:
        return None


def _date(v):
    try:
        return dateparser.isoparse(v)
    except (ValueError, OverflowError):
        return None


def describe(header, rows, precision=4):
    out = {}
    for i, name in enumerate(header):
        values = [r[i] for r in rows if r[i] != ""]
        col = {"count": len(values), "missing": len(rows) - len(values)}
        nums = [_number(v) for v in values]
        dates = [_date(v) for v in values]
        if values and all(n is not None for n in nums):
            col.update(type="number", min=min(nums), max=max(nums),
                       mean=round(statistics.fmean(nums), precision),
                       median=round(statistics.median(nums), precision),
                       stdev=round(statistics.pstdev(nums), precision))
        elif values and all(d is not None for d in dates):
            col.update(type="date", first=min(dates).isoformat(), last=max(dates).isoformat(),
                       span_days=(max(dates) - min(dates)).days)
        else:
            distinct = sorted(set(values))
            col.update(type="text", distinct=len(distinct),
                       most_common=max(distinct, key=lambda v: (values.count(v), v)) if values else None)
        out[name] = col
    return out
