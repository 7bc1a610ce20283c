#!/usr/bin/env python3
"""Writes a SentencePiece Unigram .model as a Hugging Face tokenizer.json, in the layout the transformers
converters (convert_slow_tokenizer.py) give the model family named by the first argument:

  t5      T5Converter as published for t5-small (2020): Precompiled normaliser, WhitespaceSplit + Metaspace
          (add_prefix_space), "$A </s>" template, 100 <extra_id_N> added tokens after the pieces.
  xlmr    XLMRobertaConverter, current layout: <s> <pad> </s> <unk> before the pieces (fairseq's offset), <mask> last,
          Sequence[Precompiled, Replace(" {2,}", " ")], Metaspace(prepend_scheme "always"), "<s> $A </s>" and the
          RoBERTa pair template.
  albert  AlbertConverter: Replace `` and '' by ", NFKD + StripAccents + Lowercase, Precompiled; pieces ending in a
          digit and a comma scored 100 lower; "[CLS] $A [SEP]" template.
  bytes   a model trained with --byte_fallback and the identity rule (no charsmap): byte_fallback set, Metaspace
          (prepend_scheme "first", no split), the Replace/ByteFallback/Fuse/Strip decoder.

The .model file is a protobuf ModelProto, read here by hand (the fields used: pieces = 1 {piece = 1, score = 2,
type = 3}, trainer_spec = 2 {unk_id = 40}, normalizer_spec = 3 {precompiled_charsmap = 2}) so that nothing beyond
Python is needed. Usage: make_unigram_tokenizer_json.py FAMILY MODEL > tokenizer.json
"""
import base64
import json
import struct
import sys


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def fields(buf):
    """(field number, wire type, value) of each field of a message; LEN values as bytes."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def read_model(path):
    data = open(path, "rb").read()
    pieces, unk_id, charsmap = [], 0, b""
    for number, wire, value in fields(data):
        if number == 1:
            piece, score, kind = "", 0.0, 1
            for n, w, v in fields(value):
                if n == 1:
                    piece = v.decode("utf-8")
                elif n == 2:
                    score = struct.unpack("<f", v)[0]
                elif n == 3:
                    kind = v
            pieces.append((piece, score, kind))
        elif number == 2:
            for n, w, v in fields(value):
                if n == 40:
                    unk_id = v
        elif number == 3:
            for n, w, v in fields(value):
                if n == 2:
                    charsmap = v
    return pieces, unk_id, charsmap


def added(id_, content, special=True, lstrip=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": not special, "special": special}


def precompiled(charsmap):
    return {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")}


def template(single, pair, specials):
    return {"type": "TemplateProcessing", "single": single, "pair": pair,
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in specials}}


def seq(which, type_id=0):
    return {"Sequence": {"id": which, "type_id": type_id}}


def tok(name, type_id=0):
    return {"SpecialToken": {"id": name, "type_id": type_id}}


def main():
    family, path = sys.argv[1], sys.argv[2]
    pieces, unk_id, charsmap = read_model(path)
    # float32 scores widened to float64 as the converter's Python floats are
    vocab = [[p, float(s)] for p, s, _ in pieces]
    out = {"version": "1.0", "truncation": None, "padding": None}
    if family == "t5":
        for i in range(99, -1, -1):
            vocab.append([f"<extra_id_{i}>", 0.0])
        names = {0: "<pad>", 1: "</s>", 2: "<unk>"}
        out["added_tokens"] = [added(i, n) for i, n in names.items()] + [
            added(len(pieces) + k, f"<extra_id_{99 - k}>") for k in range(100)]
        out["normalizer"] = precompiled(charsmap)
        out["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]}
        out["post_processor"] = template([seq("A"), tok("</s>")], [seq("A"), tok("</s>"), seq("B"), tok("</s>")],
                                         [("</s>", 1)])
        out["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
        model = {"type": "Unigram", "unk_id": 2, "vocab": vocab}
    elif family == "xlmr":
        vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]] + vocab[3:] + [["<mask>", 0.0]]
        out["added_tokens"] = [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"),
                               added(len(vocab) - 1, "<mask>", lstrip=True)]
        out["normalizer"] = {"type": "Sequence", "normalizers": [
            precompiled(charsmap), {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
        out["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
        out["post_processor"] = template([tok("<s>"), seq("A"), tok("</s>")],
                                         [tok("<s>"), seq("A"), tok("</s>"), tok("</s>"), seq("B"), tok("</s>")],
                                         [("<s>", 0), ("</s>", 2)])
        out["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
        model = {"type": "Unigram", "unk_id": 3, "vocab": vocab}
    elif family == "albert":
        def keeps(p):
            return len(p) < 2 or p[-1] != "," or not p[-2].isdigit()
        vocab = [[p, s if keeps(p) else s - 100] for p, s in vocab]
        ids = {p: i for i, (p, _, _) in enumerate(pieces)}
        out["added_tokens"] = [added(ids[n], n) for n in ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]]
        out["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            {"type": "Replace", "pattern": {"String": "''"}, "content": "\""},
            {"type": "NFKD"}, {"type": "StripAccents"}, {"type": "Lowercase"}, precompiled(charsmap),
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
        out["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
        out["post_processor"] = template([tok("[CLS]"), seq("A"), tok("[SEP]")],
                                         [tok("[CLS]"), seq("A"), tok("[SEP]"), seq("B", 1), tok("[SEP]", 1)],
                                         [("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
        out["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
        model = {"type": "Unigram", "unk_id": unk_id, "vocab": vocab}
    elif family == "bytes":
        out["added_tokens"] = [added(i, p) for i, (p, _, kind) in enumerate(pieces) if kind in (2, 3)]
        out["normalizer"] = None
        out["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
        out["post_processor"] = template([tok("<s>"), seq("A")], [tok("<s>"), seq("A"), tok("<s>", 1), seq("B", 1)],
                                         [("<s>", 1)])
        out["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
        model = {"type": "Unigram", "unk_id": unk_id, "vocab": vocab, "byte_fallback": True}
    else:
        raise SystemExit(f"unknown family {family}")
    out["model"] = model
    json.dump(out, sys.stdout, ensure_ascii=False, indent=None)


if __name__ == "__main__":
    main()
