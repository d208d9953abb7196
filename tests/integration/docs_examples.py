"""Runs the SQL examples of Markdown documents and compares the output they show.

Usage: python3 docs_examples.py PSQL_COMMAND... -- FILE.md...

Every ```sql block of each file runs, in order, in the database that PSQL_COMMAND connects to
(one psql per chunk, ON_ERROR_STOP). A block is cut into chunks at the outputs it shows: a run of
comment lines `--  ...` (two spaces) after SQL is the table the chunk's last query prints (header,
then the first rows; a row ending in `...` is compared up to there, a trailing `  (note)` is
ignored), and `-- ERROR:  message` says the chunk must fail with that message. Cells are compared
after trimming; a shown table may list fewer rows than the query returns (the first ones).
Prints one line per checked output and exits 1 at the first difference; with
DOCS_EXAMPLES_SHOW=1 it also prints every chunk's output (to write the docs).
"""
import os
import re
import subprocess
import sys


def blocks(path):
    out, cur, on = [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.strip() == "```sql":
            on, cur = True, []
        elif on and line.strip() == "```":
            on = False
            out.append(cur)
        elif on:
            cur.append(line)
    return out


def chunks(block):
    """(sql, shown) pairs: shown is None, ('table', lines) or ('error', message)."""
    result, sql, i = [], [], 0
    while i < len(block):
        line = block[i]
        if line.startswith("-- ERROR:"):
            result.append(("\n".join(sql), ("error", line[len("-- ERROR:"):].strip())))
            sql = []
        elif line.startswith("--  ") and "|" in line and any(s.strip() and not s.lstrip().startswith("--") for s in sql):
            shown = []
            while i < len(block) and block[i].startswith("--  "):
                shown.append(block[i][4:])
                i += 1
            result.append(("\n".join(sql), ("table", shown)))
            sql = []
            continue
        else:
            sql.append(line)
        i += 1
    if any(s.strip() and not s.lstrip().startswith("--") for s in sql):
        result.append(("\n".join(sql), None))
    return result


def cells(line):
    return [c.strip() for c in line.split("|")]


def last_table(text):
    """Header and rows of the last table psql printed (aligned format)."""
    lines = text.splitlines()
    seps = [k for k, l in enumerate(lines) if re.fullmatch(r"-+(\+-+)*", l.strip()) and k > 0]
    if not seps:
        return None
    k = seps[-1]
    rows = []
    for l in lines[k + 1:]:
        if re.fullmatch(r"\(\d+ rows?\)", l.strip()):
            break
        rows.append(l)
    return lines[k - 1], rows


def norm(line):
    return "|".join(cells(line))


def same_row(shown, actual):
    shown = re.sub(r"\s{2,}\([^|]*\)\s*$", "", shown).rstrip()
    if shown.endswith("..."):
        return norm(actual).startswith(norm(shown[:-3]).rstrip())
    return cells(shown) == cells(actual)


def main():
    sep = sys.argv.index("--")
    psql, files = sys.argv[1:sep], sys.argv[sep + 1:]
    checked = 0
    for path in files:
        for b, block in enumerate(blocks(path), 1):
            for sql, shown in chunks(block):
                run = subprocess.run(psql, input=sql + "\n", capture_output=True, text=True)
                where = f"{path} block {b}"
                if shown and shown[0] == "error":
                    # "..." in a shown message stands for any text
                    want = ".*?".join(re.escape(p) for p in shown[1].split("..."))
                    if run.returncode == 0 or not re.search(want, run.stderr):
                        sys.exit(f"FAIL {where}: expected ERROR {shown[1]!r}, got {run.stderr or run.stdout!r}\n{sql}")
                    checked += 1
                    print(f"ok {where}: ERROR {shown[1][:60]}")
                    continue
                if run.returncode != 0:
                    sys.exit(f"FAIL {where}: {run.stderr.strip()}\n{sql}")
                if os.environ.get("DOCS_EXAMPLES_SHOW"):  # to write the docs: print every output
                    print(f"--- {where}\n{sql}\n{run.stdout}")
                if shown is None:
                    continue
                table = last_table(run.stdout)
                lines = shown[1]
                if table is None:
                    sys.exit(f"FAIL {where}: no table printed, the docs show\n" + "\n".join(lines) + f"\n{sql}")
                header, rows = table
                if cells(re.sub(r"\s{2,}\([^|]*\)\s*$", "", lines[0])) != cells(header):
                    sys.exit(f"FAIL {where}: header {cells(header)} but the docs show {cells(lines[0])}\n{sql}")
                if len(rows) < len(lines) - 1:
                    sys.exit(f"FAIL {where}: {len(rows)} rows but the docs show {len(lines) - 1}\n{sql}\n{run.stdout}")
                for want, got in zip(lines[1:], rows):
                    if not same_row(want, got):
                        sys.exit(f"FAIL {where}:\n  docs: {want.strip()}\n  got:  {got.strip()}\n{sql}")
                checked += 1
                print(f"ok {where}: {lines[0].strip()[:70]}")
    print(f"== {checked} outputs shown in {', '.join(files)} match")


if __name__ == "__main__":
    main()
