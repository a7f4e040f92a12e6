#!/usr/bin/env python3
"""Lines per Swift file and per function (longest first), for reviews of code shape.

Usage: tools/function-lengths.py [DIR ...]   (default: Sources)
A function is counted from its `func`/`init`/`deinit` line to its closing brace, comment and
blank lines included; nested functions are counted on their own too.
"""
import os
import re
import sys

DECL = re.compile(r'^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|static|final|override|mutating|nonisolated|@inline\(__always\))\s+)*(func\s+[^\s(<]+|init[?!]?\s*[(<]|deinit\b)')


def strip_strings(line):
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', line.split('//')[0])


def functions(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    found = []
    for i, line in enumerate(lines):
        m = DECL.match(line)
        if not m:
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            text = strip_strings(lines[j])
            depth += text.count('{') - text.count('}')
            opened = opened or '{' in text
            if opened and depth <= 0:
                name = m.group(1).replace('func ', '').strip(' (<')
                found.append((j - i + 1, name, i + 1))
                break
    return len(lines) - (1 if lines and lines[-1] == '' else 0), found


def main():
    roots = sys.argv[1:] or ['Sources']
    files, funcs = [], []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for n in sorted(names):
                if n.endswith('.swift'):
                    p = os.path.join(dirpath, n)
                    count, fs = functions(p)
                    files.append((count, p))
                    funcs += [(length, p, name, line) for length, name, line in fs]
    print('lines  file')
    for count, p in sorted(files, reverse=True)[:15]:
        print(f'{count:5}  {p}')
    print('\nlines  function')
    for length, p, name, line in sorted(funcs, reverse=True)[:15]:
        print(f'{length:5}  {p}:{line} {name}')


if __name__ == '__main__':
    main()
