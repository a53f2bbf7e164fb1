#!/usr/bin/python3
"""
Runs cppcheck or clang-tidy over daemon/ and clients/siaoctl/ and fails on
any finding (issue 17 item 4: zero findings, every disabled check written
down with its reason in .clang-tidy, every cppcheck suppression inline with
its reason next to the code).

Both tools read the build's compile_commands.json (CMAKE_EXPORT_COMPILE_COMMANDS),
narrowed to the files we own, so they see the same -I and -D as the compiler.

    static_analysis.py cppcheck   --build DIR --source DIR
    static_analysis.py clang-tidy --build DIR --source DIR [--jobs N]
    static_analysis.py --self-test --source DIR
        run both tools on tests/lint/fixtures/defects.c (known defects) and
        on tests/lint/fixtures/clean.c, and fail unless the defects are
        reported and the clean file is not: the check can fail.

clang-tidy is the slow one (the analyzer): files run N at a time (default 2,
the machine's cores are shared), and a file that came out clean is
remembered in DIR/lint-cache under a key over everything that can change
its result (the tool's version, .clang-tidy, its compile command, the file
and every header of ours), so an unchanged file is not analysed again.
"""
import argparse
import concurrent.futures
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

OWNED = ("daemon/", "clients/siaoctl/")
# cppcheck: the classes the issue asks for; the template is one line per finding.
CPPCHECK_ARGS = ["--enable=warning,portability", "--inline-suppr", "--quiet",
                 "--error-exitcode=1",
                 "--template={file}:{line}: {severity}/{id}: {message}"]
FINDING = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)? "
                     r"(?P<what>warning|error)[:/ ]\s*(?P<msg>.*)$")


def tool(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    sys.exit("static_analysis: none of %s is installed (scripts/lib/common.sh "
             "SIAOD_PACKAGES lists cppcheck and clang-tidy)" % ", ".join(names))


def owned_commands(build, source):
    """The compile commands of the files of daemon/ and clients/siaoctl/."""
    path = os.path.join(build, "compile_commands.json")
    with open(path, encoding="utf-8") as fh:
        db = json.load(fh)
    roots = [os.path.join(os.path.realpath(source), d) for d in OWNED]
    out = [e for e in db
           if any(os.path.realpath(e["file"]).startswith(r) for r in roots)]
    if not out:
        sys.exit("static_analysis: no file of %s in %s" % (", ".join(OWNED), path))
    return out


def write_db(entries, directory):
    with open(os.path.join(directory, "compile_commands.json"), "w", encoding="utf-8") as fh:
        json.dump(entries, fh)


def findings_of(text, source):
    """Findings (deduplicated: a header's finding comes once per includer)."""
    seen = []
    for line in text.splitlines():
        m = FINDING.match(line.strip())
        if m and (line.strip() not in seen):
            seen.append(line.strip())
    return seen


def run_cppcheck(entries, source):
    exe = tool("cppcheck")
    with tempfile.TemporaryDirectory() as d:
        write_db(entries, d)
        p = subprocess.run([exe, "--project=" + os.path.join(d, "compile_commands.json"),
                            "-j2"] + CPPCHECK_ARGS,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = findings_of(p.stdout, source)
    if p.returncode != 0 and not found:
        found = ["cppcheck exited with %d:\n%s" % (p.returncode, p.stdout)]
    return found


def headers_digest(source):
    h = hashlib.sha256()
    for d in ("daemon", "include", "clients/siaoctl"):
        for f in sorted(glob.glob(os.path.join(source, d, "**", "*.h"), recursive=True)):
            h.update(f.encode())
            with open(f, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def run_clang_tidy(entries, source, build, jobs, cache=True):
    exe = tool("clang-tidy", "clang-tidy-14", "clang-tidy-15", "clang-tidy-16")
    version = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, text=True).stdout
    config_file = os.path.join(source, ".clang-tidy")
    with open(config_file, "rb") as fh:
        config = fh.read()
    common = hashlib.sha256(version.encode() + config + headers_digest(source).encode()).hexdigest()
    cache_dir = os.path.join(build, "lint-cache") if cache else None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)

    def key(e):
        h = hashlib.sha256(common.encode())
        h.update(json.dumps(e, sort_keys=True).encode())
        with open(e["file"], "rb") as fh:
            h.update(fh.read())
        return h.hexdigest()

    with tempfile.TemporaryDirectory() as d:
        write_db(entries, d)

        def one(e):
            k = key(e)
            if cache_dir and os.path.exists(os.path.join(cache_dir, k)):
                return e["file"], [], True
            p = subprocess.run([exe, "-p", d, "--quiet", "--config-file=" + config_file,
                                e["file"]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            found = findings_of(p.stdout, source)
            if p.returncode != 0 and not found:
                found = ["%s: clang-tidy exited with %d:\n%s%s" % (e["file"], p.returncode,
                                                                  p.stdout, p.stderr)]
            if not found and cache_dir:
                open(os.path.join(cache_dir, k), "w").close()
            return e["file"], found, False

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(one, entries))
    cached = sum(1 for _, _, c in results if c)
    print("clang-tidy: %d files, %d unchanged since a clean run" % (len(results), cached))
    found = []
    for _, f, _ in results:
        for x in f:
            if x not in found:
                found.append(x)
    return found


def self_test(source):
    fixtures = os.path.join(source, "tests", "lint", "fixtures")
    ok = True
    with tempfile.TemporaryDirectory() as build:
        for name, want in (("defects.c", True), ("clean.c", False)):
            f = os.path.join(fixtures, name)
            entry = {"directory": fixtures, "file": f,
                     "command": "cc -std=c11 -D_POSIX_C_SOURCE=200809L -c %s" % f}
            # The fixtures live outside daemon/: check them as if they were ours.
            for label, found in (("cppcheck", run_cppcheck([entry], source)),
                                 ("clang-tidy", run_clang_tidy([entry], source, build, 1,
                                                               cache=False))):
                print("%s on %s: %d finding(s)" % (label, name, len(found)))
                for x in found:
                    print("  " + x)
                if bool(found) != want:
                    print("FAIL: %s on %s should %sreport" % (label, name, "" if want else "not "))
                    ok = False
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", nargs="?", choices=("cppcheck", "clang-tidy"))
    ap.add_argument("--build")
    ap.add_argument("--source", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    a.source = os.path.realpath(a.source)
    if a.build:
        a.build = os.path.realpath(a.build)
    if a.self_test:
        sys.exit(0 if self_test(a.source) else 1)
    if not a.tool or not a.build:
        ap.error("a tool and --build are needed")
    entries = owned_commands(a.build, a.source)
    if a.tool == "cppcheck":
        found = run_cppcheck(entries, a.source)
    else:
        found = run_clang_tidy(entries, a.source, a.build, a.jobs)
    for x in found:
        print(x)
    print("%s: %d finding(s) in %d files" % (a.tool, len(found), len(entries)))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
