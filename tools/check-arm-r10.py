#!/usr/bin/env python3
"""Fails if a Swift function in a 32-bit ARM binary writes r10 without saving it first.

Swift's calling convention passes `self` (and the closure context) in r10, which AAPCS makes
callee-saved: callers keep using it after the call. LLVM's ARM load/store optimizer was seen to
merge the last stores of a mutating method into `stmib r10!, {...}`, whose writeback moves the
caller's `self` by 12 bytes (ReadBuffer.reserve: every request head over 1 KiB was reset on
armv7 and armv6). tools/release-embedded.sh turns that pass off for Swift code; this check keeps
the whole class out of every 32-bit ARM build: a write to r10 (writeback, or r10 as the first
operand of a data-processing or load instruction) in a Swift function whose prologue does not
push r10.

    tools/check-arm-r10.py BINARY   (unstripped; reads `llvm-objdump -d`)
"""
import re
import subprocess
import sys

WRITES = re.compile(r"^(mov|mvn|add|sub|rsb|adc|sbc|and|orr|eor|bic|lsl|lsr|asr|ror|ldr\w*|mul|mla)\w*\s+r10\b|\br10!|^pop\s+\{[^}]*\br10\b")


def main(path):
    out = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", path], check=True,
                         capture_output=True, text=True).stdout
    function, saved, bad, swift_functions = None, False, [], 0
    for line in out.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if header:
            name = header.group(1)
            function = name if name.startswith(("$e", "$s")) else None
            swift_functions += function is not None
            saved = False
            continue
        if function is None or ":" not in line:
            continue
        instruction = line.split(":", 1)[1].strip()
        if re.match(r"^(push|stmdb\s+sp!)\s*,?\s*\{[^}]*\br10\b", instruction):
            saved = True
            continue
        if not saved and WRITES.search(instruction) and not instruction.startswith("pop"):
            bad.append(f"{function}: {instruction}")
    if swift_functions == 0:
        sys.exit(f"check-arm-r10: no Swift functions found in {path} (stripped?)")
    for line in bad:
        print(f"check-arm-r10: r10 written but not saved: {line}", file=sys.stderr)
    if bad:
        sys.exit(f"check-arm-r10: {len(bad)} instruction(s) clobber r10 (Swift's self register) in {path}")
    print(f"check-arm-r10: {swift_functions} Swift functions, none writes r10 unsaved")


if __name__ == "__main__":
    main(sys.argv[1])
