#!/usr/bin/python3
"""Writes a Marian-style tokenizer folder (source.spm, target.spm, vocab.json) and what SentencePiece itself makes of
some texts, for MarianTokenizerTest. Needs Debian's sentencepiece tools (spm_train, spm_encode, spm_decode 0.1.97).

Run from this folder:  /usr/bin/python3 make_marian_spm_fixture.py

As opus-mt folders are: two SentencePiece Unigram models (source.spm with the nmt_nfkc rules, i.e. a precompiled
charsmap; target.spm here with the identity rules, no charsmap) and one vocab.json over the union of their pieces,
whose ids are not the spm ids ("</s>" 0, "<unk>" 1, the pieces sorted, "<pad>" last, as Marian's vocabularies are
laid out). Hugging Face's MarianTokenizer encodes with the source model, maps pieces through vocab.json (unknown
pieces to <unk>) and appends </s>; it decodes ids to pieces through vocab.json and joins them with the target
model's decode_pieces, skipping special tokens. reference.json holds, per text, the source pieces and the ids, and
for the target side ids and the text spm_decode gives for their pieces (special tokens skipped, as HF decodes).
"""
import json
import subprocess

CORPUS = ["The house is wonderful and the garden is big.", "I like green tea with lemon.",
          "Translation models read source.spm files.", "Hello world, how are you today?",
          "Numbers like 42 and 1234 appear too.", "The quick brown fox jumps over the lazy dog.",
          "Ein Haus ist wunderbar und der Garten ist groß.", "Ich trinke gerne grünen Tee mit Zitrone."]
TEXTS = ["The house is big, isn't it?", "  Hello   world  ", "Ｆｕｌｌ width and café", "groß", "zebra xylophone"]


def train(prefix, rule):
    with open("corpus.txt", "w") as f:
        f.write("\n".join(CORPUS * 6) + "\n")
    subprocess.run(["spm_train", "--input=corpus.txt", f"--model_prefix={prefix}", "--vocab_size=80", "--model_type=unigram",
                    "--character_coverage=1.0", "--unk_id=1", "--bos_id=-1", "--eos_id=0", "--pad_id=-1",
                    f"--normalization_rule_name={rule}"], check=True, capture_output=True)


def run(tool, model, text, *flags):
    return subprocess.run([tool, f"--model={model}", *flags], input=text + "\n", capture_output=True, text=True,
                          check=True).stdout.rstrip("\n")


def main():
    train("source", "nmt_nfkc")
    train("target", "identity")
    import os
    os.rename("source.model", "source.spm")
    os.rename("target.model", "target.spm")
    for f in ("source.vocab", "target.vocab", "corpus.txt"):
        os.remove(f)
    pieces = set()
    for m in ("source.spm", "target.spm"):
        pieces |= {p for p in run("spm_export_vocab", m, "").split("\n") for p in [p.split("\t")[0]]}
    pieces -= {"</s>", "<unk>", ""}
    vocab = {"</s>": 0, "<unk>": 1}
    for p in sorted(pieces):
        vocab[p] = len(vocab)
    vocab["<pad>"] = len(vocab)
    with open("vocab.json", "w") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=0)
    cases = []
    for t in TEXTS:
        src = run("spm_encode", "source.spm", t, "--output_format=piece").split(" ")
        src = [p for p in src if p]
        cases.append({"text": t, "pieces": src, "ids": [vocab.get(p, 1) for p in src] + [0]})
    decodes = []
    for t in TEXTS[:3]:
        tp = [p for p in run("spm_encode", "target.spm", t, "--output_format=piece").split(" ") if p]
        ids = [vocab.get(p, 1) for p in tp]
        # MarianTokenizer.decode(skip_special_tokens=True): ids to vocab.json pieces without </s> <unk> <pad>, then the
        # target model's decode_pieces
        inverse = {i: p for p, i in vocab.items()}
        kept = [inverse[i] for i in ids if i not in (0, 1, vocab["<pad>"])]
        decodes.append({"ids": ids + [0], "text": run("spm_decode", "target.spm", " ".join(kept), "--input_format=piece")})
    with open("reference.json", "w") as f:
        json.dump({"command": "/usr/bin/python3 make_marian_spm_fixture.py", "encode": cases, "decode": decodes}, f,
                  ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
