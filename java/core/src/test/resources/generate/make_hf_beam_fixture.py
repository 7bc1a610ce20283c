"""Reference outputs of Hugging Face transformers' own beam search and greedy decoding on a toy model.

Regenerate (from the worktree root; transformers is only needed here, never by the tests):
    python3 -m venv --system-site-packages build/hfenv/venv      # Debian python3-torch 1.13 underneath
    build/hfenv/venv/bin/pip install transformers==5.18.0
    build/hfenv/venv/bin/python java/core/src/test/resources/generate/make_hf_beam_fixture.py \
        > java/core/src/test/resources/generate/hf_beam_search.json

transformers 5.18 declines to load its model classes on torch 1.13, so this script does not call
model.generate(): it takes the beam-search step functions out of the installed
transformers/generation/utils.py (GenerationMixin._get_top_k_continuations, _get_running_beams_for_next_iteration,
_update_finished_beams, _check_early_stop_heuristic, _beam_search_has_unfinished_sequences and the beam reshaping
helpers, compiled from that file's own source text at run time) and uses transformers' logits processors and
stopping criteria as imported. What this script writes itself is the loop around them, following the order of
GenerationMixin._beam_search / _sample, the processor list in the order of _get_logits_processor, and the
length defaults of _prepare_generated_length.

The toy model's logits depend on the whole prefix through integer hashing (see logits()), so Java computes
exactly the same float32 values (BeamSearchHfFixtureTest.ToyModel).
"""
import ast
import json
import math
import sys

import torch
from torch import nn

import transformers
import transformers.generation as generation_pkg
from transformers.generation.logits_process import (
    ForcedBOSTokenLogitsProcessor, ForcedEOSTokenLogitsProcessor, LogitNormalization, LogitsProcessorList,
    MinLengthLogitsProcessor, MinNewTokensLengthLogitsProcessor, NoBadWordsLogitsProcessor,
    NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor)
from transformers.generation.stopping_criteria import EosTokenCriteria, MaxLengthCriteria, StoppingCriteriaList

M64 = (1 << 64) - 1


def mix(z):
    """SplitMix64's finalizer on unsigned 64-bit values (Java: the same on long, >>> shifts)."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def logits(seed, prefix, vocab, eos_boost):
    """Distinct values per row: (r * vocab + t) with r in [0, 200) keeps every token's value apart; token 0 (the
    EOS of every case) gets eos_boost * vocab more units. Exact in float32 (units / 256)."""
    h = seed
    for tok in prefix:
        h = mix(h ^ (tok + 7))
    out = []
    for t in range(vocab):
        r = mix(h ^ (((t + 1) * 0x100000001B3) & M64)) % 200
        units = r * vocab + t - 100 * vocab + (eos_boost * vocab if t == 0 else 0)
        out.append(units / 256.0)
    return out


def hf_helpers():
    """GenerationMixin's beam helpers, compiled from the installed transformers source."""
    path = generation_pkg.__path__[0] + "/utils.py"
    tree = ast.parse(open(path).read())
    wanted = {"_flatten_beam_dim", "_unflatten_beam_dim", "_gather_beams", "_check_early_stop_heuristic",
              "_beam_search_has_unfinished_sequences", "_get_top_k_continuations",
              "_get_running_beams_for_next_iteration", "_update_finished_beams"}
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GenerationMixin")
    body = [f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name in wanted]
    assert {f.name for f in body} == wanted, "transformers changed its beam helpers"
    module = ast.Module(body=[ast.ClassDef(name="Helpers", bases=[], keywords=[], body=body, decorator_list=[])],
                        type_ignores=[])
    ns = {"torch": torch, "nn": nn, "Union": object}
    exec(compile(ast.fix_missing_locations(module), path, "exec"), ns)
    return ns["Helpers"]()


H = hf_helpers()


def lengths(cfg, prompt_len):
    # _prepare_generated_length: max_new_tokens wins, else max_length, else prompt + 20 (no max_position cap here).
    if cfg.get("max_new_tokens") is not None:
        max_length = cfg["max_new_tokens"] + prompt_len
    elif cfg.get("max_length") is not None:
        max_length = cfg["max_length"]
    else:
        max_length = 20 + prompt_len
    min_length = cfg.get("min_length") or 0
    if cfg.get("min_new_tokens") is not None:
        min_length = cfg["min_new_tokens"] + prompt_len
    return max_length, min_length


def processors(cfg, prompt_len, max_length, min_length, eos):
    # The order of GenerationMixin._get_logits_processor for the keys used here.
    p = LogitsProcessorList()
    if cfg.get("repetition_penalty", 1.0) != 1.0:
        p.append(RepetitionPenaltyLogitsProcessor(penalty=cfg["repetition_penalty"]))
    if cfg.get("no_repeat_ngram_size", 0) > 0:
        p.append(NoRepeatNGramLogitsProcessor(cfg["no_repeat_ngram_size"]))
    if cfg.get("bad_words_ids") is not None:
        p.append(NoBadWordsLogitsProcessor(cfg["bad_words_ids"], eos))
    if min_length > 0 and eos is not None:
        p.append(MinLengthLogitsProcessor(min_length, eos))
    if cfg.get("min_new_tokens") is not None and cfg["min_new_tokens"] > 0 and eos is not None:
        p.append(MinNewTokensLengthLogitsProcessor(prompt_len, cfg["min_new_tokens"], eos))
    if cfg.get("forced_bos_token_id") is not None:
        p.append(ForcedBOSTokenLogitsProcessor(cfg["forced_bos_token_id"]))
    if cfg.get("forced_eos_token_id") is not None:
        p.append(ForcedEOSTokenLogitsProcessor(max_length, cfg["forced_eos_token_id"]))
    if cfg.get("renormalize_logits") is True:
        p.append(LogitNormalization())
    return p


def eos_list(cfg):
    e = cfg.get("eos_token_id")
    return None if e is None else (e if isinstance(e, list) else [e])


def beam_search(case, seed, prompt):
    """One input alone (batch 1), as _beam_search runs it."""
    cfg, vocab, boost = case["config"], case["vocab"], case["eos_boost"]
    num_beams = cfg["num_beams"]
    early_stopping = cfg.get("early_stopping", False)
    length_penalty = cfg.get("length_penalty", 1.0)
    num_return = cfg.get("num_return_sequences", 1)
    eos = eos_list(cfg)
    cur_len = len(prompt)
    max_length, min_length = lengths(cfg, cur_len)
    logits_processor = processors(cfg, cur_len, max_length, min_length, eos)
    stopping = StoppingCriteriaList([MaxLengthCriteria(max_length=max_length)])
    if eos is not None:
        stopping.append(EosTokenCriteria(eos_token_id=eos))
    batch_size = 1
    decoder_prompt_len = cur_len
    n_eos = len(eos) if eos is not None else 0
    beams_to_keep = max(2, 1 + n_eos) * num_beams
    top_num_beam_mask = torch.cat((torch.ones(num_beams, dtype=torch.bool),
                                   torch.zeros(beams_to_keep - num_beams, dtype=torch.bool)))
    input_ids = torch.tensor([prompt] * num_beams, dtype=torch.int64)
    fill = cfg.get("pad_token_id") if cfg.get("pad_token_id") is not None else (eos[0] if eos else -1)
    running_sequences = torch.full((batch_size, num_beams, max_length), fill_value=fill, dtype=torch.int64)
    running_sequences[:, :, :cur_len] = H._unflatten_beam_dim(input_ids, batch_size, num_beams)
    sequences = running_sequences.detach().clone()
    running_beam_scores = torch.zeros((batch_size, num_beams), dtype=torch.float)
    running_beam_scores[:, 1:] = -1e9
    beam_scores = torch.full((batch_size, num_beams), fill_value=-1e9, dtype=torch.float)
    is_sent_finished = torch.zeros((batch_size, num_beams), dtype=torch.bool)
    unsatisfied = torch.ones((batch_size, 1), dtype=torch.bool)
    running_beam_indices = torch.full((batch_size, num_beams, max_length - cur_len), fill_value=-1, dtype=torch.int32)
    beam_indices = running_beam_indices.detach().clone()
    ties = False
    while True:
        flat = H._flatten_beam_dim(running_sequences[:, :, :cur_len])
        raw = torch.tensor([logits(seed, row.tolist(), vocab, boost) for row in flat], dtype=torch.float32)
        log_probs = nn.functional.log_softmax(raw, dim=-1)
        log_probs = logits_processor(flat, log_probs)
        log_probs = H._unflatten_beam_dim(log_probs, batch_size, num_beams)
        log_probs = log_probs + running_beam_scores[:, :, None]
        log_probs = torch.reshape(log_probs, (batch_size, -1))
        srt = torch.sort(log_probs[0], descending=True).values[: beams_to_keep + 1]
        finite = srt[srt > -1e8]
        ties |= bool((finite[1:] == finite[:-1]).any())
        topk_log_probs, topk_running_sequences, topk_running_beam_indices = H._get_top_k_continuations(
            accumulated_log_probs=log_probs, running_sequences=running_sequences,
            running_beam_indices=running_beam_indices, cur_len=cur_len, decoder_prompt_len=decoder_prompt_len,
            do_sample=False, beams_to_keep=beams_to_keep, num_beams=num_beams, batch_size=batch_size)
        hits = stopping(H._flatten_beam_dim(topk_running_sequences[:, :, : cur_len + 1]), None)
        hits = H._unflatten_beam_dim(hits, batch_size, beams_to_keep)
        running_sequences, running_beam_scores, running_beam_indices = H._get_running_beams_for_next_iteration(
            topk_log_probs=topk_log_probs, topk_running_sequences=topk_running_sequences,
            topk_running_beam_indices=topk_running_beam_indices, next_token_hits_stopping_criteria=hits,
            num_beams=num_beams)
        sequences, beam_scores, beam_indices, is_sent_finished = H._update_finished_beams(
            sequences=sequences, topk_running_sequences=topk_running_sequences, beam_scores=beam_scores,
            topk_log_probs=topk_log_probs, beam_indices=beam_indices,
            topk_running_beam_indices=topk_running_beam_indices, is_early_stop_heuristic_unsatisfied=unsatisfied,
            is_sent_finished=is_sent_finished, next_token_hits_stopping_criteria=hits,
            top_num_beam_mask=top_num_beam_mask, num_beams=num_beams, cur_len=cur_len,
            decoder_prompt_len=decoder_prompt_len, length_penalty=length_penalty, early_stopping=early_stopping)
        cur_len += 1
        unsatisfied = H._check_early_stop_heuristic(
            is_early_stop_heuristic_unsatisfied=unsatisfied, running_beam_scores=running_beam_scores,
            beam_scores=beam_scores, is_sent_finished=is_sent_finished, cur_len=cur_len, max_length=max_length,
            decoder_prompt_len=decoder_prompt_len, early_stopping=early_stopping, length_penalty=length_penalty)
        if not H._beam_search_has_unfinished_sequences(unsatisfied, is_sent_finished, hits, early_stopping):
            break
    out = []
    for k in range(num_return):
        assert bool(is_sent_finished[0, k]), "a returned hypothesis is not finished"
        generated = int((beam_indices[0, k] + 1).bool().sum())  # as _beam_search crops its output
        tokens = sequences[0, k, decoder_prompt_len: decoder_prompt_len + generated].tolist()
        out.append({"tokens": tokens, "score": float(beam_scores[0, k])})
    return out, ties


def greedy(case, seed, prompt):
    """One input alone, as _sample runs it with do_sample False: processors on raw logits, argmax."""
    cfg, vocab, boost = case["config"], case["vocab"], case["eos_boost"]
    eos = eos_list(cfg)
    max_length, min_length = lengths(cfg, len(prompt))
    logits_processor = processors(cfg, len(prompt), max_length, min_length, eos)
    input_ids = torch.tensor([prompt], dtype=torch.int64)
    while True:
        raw = torch.tensor([logits(seed, input_ids[0].tolist(), vocab, boost)], dtype=torch.float32)
        scores = logits_processor(input_ids, raw)
        nxt = torch.argmax(scores, dim=-1)
        input_ids = torch.cat([input_ids, nxt[:, None]], dim=-1)
        if (eos is not None and int(nxt[0]) in eos) or input_ids.shape[1] >= max_length:
            break
    return [{"tokens": input_ids[0, len(prompt):].tolist()}], False


CASES = [
    {"name": "decoder-only, 3 beams, length_penalty 1, early_stopping false, batch of 2",
     "vocab": 10, "eos_boost": 6, "seeds": [11, 12], "prompts": [[3, 4, 5], [6, 7, 8, 9, 2]],
     "config": {"num_beams": 3, "eos_token_id": 0, "max_new_tokens": 8, "length_penalty": 1.0}},
    {"name": "seq2seq (decoder start), 4 beams, length_penalty 2, early_stopping true, no-repeat 2, min_new_tokens 3, forced BOS/EOS",
     "vocab": 12, "eos_boost": 25, "seeds": [21, 22, 23], "prompts": [[1], [1], [1]],
     "config": {"num_beams": 4, "eos_token_id": 0, "decoder_start_token_id": 1, "pad_token_id": 1,
                "max_length": 10, "length_penalty": 2.0, "early_stopping": True, "no_repeat_ngram_size": 2,
                "min_new_tokens": 3, "forced_bos_token_id": 5, "forced_eos_token_id": 0}},
    {"name": "two EOS tokens, early_stopping never, length_penalty 0.6, repetition penalty, bad words, renormalize, 3 returned",
     "vocab": 11, "eos_boost": 15, "seeds": [31, 32], "prompts": [[2, 3], [4]],
     "config": {"num_beams": 4, "eos_token_id": [0, 1], "max_new_tokens": 7, "length_penalty": 0.6,
                "early_stopping": "never", "repetition_penalty": 1.3, "bad_words_ids": [[5], [2, 3], [0]],
                "renormalize_logits": True, "num_return_sequences": 3}},
    {"name": "negative length_penalty, early_stopping false, min_length",
     "vocab": 9, "eos_boost": 30, "seeds": [41, 42], "prompts": [[2, 2, 3], [7]],
     "config": {"num_beams": 2, "eos_token_id": 0, "max_length": 12, "min_length": 5, "length_penalty": -0.5}},
    {"name": "5 beams, early stop by the heuristic well before max_length",
     "vocab": 12, "eos_boost": 45, "seeds": [51, 52, 53], "prompts": [[4, 1], [9], [3, 3, 3]],
     "config": {"num_beams": 5, "eos_token_id": 0, "max_new_tokens": 14, "length_penalty": 1.0, "num_return_sequences": 5}},
    {"name": "length_penalty 2, early_stopping false (heuristic at the current length)",
     "vocab": 12, "eos_boost": 40, "seeds": [81, 82], "prompts": [[4, 1], [9]],
     "config": {"num_beams": 3, "eos_token_id": 0, "max_new_tokens": 12, "length_penalty": 2.0, "num_return_sequences": 3}},
    {"name": "length_penalty 2, early_stopping never (heuristic at max_length)",
     "vocab": 12, "eos_boost": 40, "seeds": [81, 82], "prompts": [[4, 1], [9]],
     "config": {"num_beams": 3, "eos_token_id": 0, "max_new_tokens": 12, "length_penalty": 2.0, "num_return_sequences": 3,
                "early_stopping": "never"}},
    {"name": "no EOS token: every hypothesis runs to max_length, no-repeat 1",
     "vocab": 10, "eos_boost": 0, "seeds": [61], "prompts": [[8]],
     "config": {"num_beams": 3, "max_new_tokens": 6, "no_repeat_ngram_size": 1, "num_return_sequences": 3}},
    {"name": "greedy with repetition penalty, no-repeat 3, min_new_tokens, forced EOS",
     "mode": "greedy", "vocab": 10, "eos_boost": 25, "seeds": [71, 72], "prompts": [[3, 4], [5]],
     "config": {"num_beams": 1, "eos_token_id": 0, "max_new_tokens": 9, "repetition_penalty": 1.5,
                "no_repeat_ngram_size": 3, "min_new_tokens": 2, "forced_eos_token_id": 0}},
]


def main():
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": []}
    for case in CASES:
        run = greedy if case.get("mode") == "greedy" else beam_search
        expected = []
        for seed, prompt in zip(case["seeds"], case["prompts"]):
            result, ties = run(case, seed, prompt)
            if ties:
                sys.exit(f"case '{case['name']}', seed {seed}: equal scores at the top-k boundary; pick another seed")
            expected.append(result)
        out["cases"].append(dict(case, mode=case.get("mode", "beam"), expected=expected))
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
