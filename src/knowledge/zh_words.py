#!/usr/bin/env python3
"""Make src/knowledge/zh_words.br, clerk's Chinese dictionary, from jieba-rs's dict.txt (MIT).

Keeps the words used at least MIN_FREQ times in jieba's corpus (136,547 of 349,045), their
frequencies rounded to a power of 1.25, grouped by frequency: a line `=FREQ` starts a group,
then one word a line, sorted, each written as one digit (the characters it shares with the
word before, 0-9) and the rest of it. The text is encoded in GB18030 (two bytes for most Han
characters instead of UTF-8's three) and compressed with brotli (quality 11, 16 MB window;
the decoder is in clerk already): 445 KB, where the same words as UTF-8 `word freq` lines
deflate to 720 KB and jieba's whole dictionary to 1.9 MB. Needs the `brotli` command
(Debian: `apt-get install brotli`).
src/knowledge/analyze.rs reads it back (`load_segmenter`).

    python3 src/knowledge/zh_words.py ~/.cargo/registry/src/*/jieba-rs-0.11.0/src/data/dict.txt
"""

import collections
import math
import subprocess
import sys

MIN_FREQ = 5
RATIO = 1.25

groups = collections.defaultdict(list)
for line in open(sys.argv[1], encoding="utf-8"):
    word, freq = line.split()[:2]
    if int(freq) >= MIN_FREQ:
        groups[round(RATIO ** round(math.log(int(freq), RATIO)))].append(word)
out = []
for freq, words in sorted(groups.items()):
    out.append(f"={freq}")
    prev = ""
    for w in sorted(words):
        k = 0
        while k < min(len(w), len(prev), 9) and w[k] == prev[k]:
            k += 1
        out.append(f"{k}{w[k:]}")
        prev = w
packed = subprocess.run(["brotli", "-q", "11", "-w", "24", "-c"], input="\n".join(out).encode("gb18030"),
                        stdout=subprocess.PIPE, check=True).stdout
open(__file__.replace("zh_words.py", "zh_words.br"), "wb").write(packed)
print(f"{sum(map(len, groups.values()))} words, {len(packed)} bytes")
