"""Schema-constrained greedy JSON decoding for a small causal LM on CPU.

Why: the LLM reader must answer a chat turn in well under a second on two CPU cores, and its
answer is parsed as JSON whose attribute values must be catalogue enums. Plain `generate()`
can emit anything (prose, an unknown colour, half an object) and pays per-step overhead.
This decoder masks every step with an xgrammar matcher compiled from the JSON schema, so each
answer parses and obeys the schema by construction; it runs its own greedy loop over the KV
cache, stops at the closing brace, and (jump-forward) feeds the text the grammar forces
(keys, punctuation, the rest of an enum value once it is unambiguous) to the model in one
forward pass instead of one pass per token.

Free text (the soft details, "long sleeves, logo") is mostly copied from the shopper's
message, so the decoder also drafts it by prompt lookup: after the answer's last tokens it
proposes the tokens that followed them in the prompt, as far as the grammar accepts them, and
checks the whole draft in the same forward pass as the next token; the model's greedy choice
decides each position, so the answer is the one plain greedy decoding gives, in fewer passes.
On a CPU one pass costs about the same for one token or eight (reading the weights dominates).

A caller may also pass a `hint`: a likely answer from a cheaper reader (the assistant passes
the rules reader's). While the answer so far is the hint's beginning, the hint's next tokens
are the draft, checked the same way, the first time together with the prompt. The hint only
saves passes: where the model disagrees it decides, so the answer is the model's own greedy
answer whatever the hint says, and an answer the model fully agrees with takes one pass.
With `hint_margin` > 0 the hint also wins near-ties: where the model's answer first parts
from the hint, the hint's token is within `hint_margin` nats of the model's choice, and the
grammar takes the rest of the hint, the answer is the whole hint, with no further pass.
Otherwise the model decides and goes on alone. So the answer is always one of two complete
readings, never a mix of their tokens (keeping the hint token by token mixed them into
answers neither reader would give). A small model is often torn between a common value and
the rare one the message names ("Green" or "Fluorescent Green"); where it is sure, it decides.
`key_margins` sets another margin where the parting (to the character) falls in the member of
a given key (the member from the comma before its key to the end of its value, at any depth):
a caller can trust the hint further on one field than on the rest.

A caller whose prompts share a long beginning (an instruction prompt with worked examples)
passes its length as `prefix_len`: that prefix's keys and values are computed once and kept,
and each answer starts from a copy of them.

Several answers are decoded together by `decode_stream` (the web app's concurrent turns, via
`retrieval.batching`): one forward pass per step over all of them, each with its own matcher, draft
and deadline, and answers that arrive meanwhile join at the next step. On a CPU this shares the
reading of the weights between shoppers; the arithmetic of their prompts is not shared.

Usage:
    decoder = ConstrainedDecoder(model, tokenizer, schema, max_new_tokens=64)
    text = decoder.generate(prompt_ids, timeout_s=2.0)   # json.loads(text) obeys `schema`
    text = decoder.generate(prompt_ids, hint='{"action":"search"}')   # same answer, fewer passes
    text = decoder.generate(prompt_ids, hint=..., hint_margin=2.5)   # the hint wins near-ties
    text = decoder.generate(prompt_ids, hint=..., hint_margin=2.5, key_margins={"type": 5.0})
    answers = decoder.decode_batch([Request(ids_a), Request(ids_b, hint=...)])   # Decoded or an exception each
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xgrammar as xgr
from transformers import DynamicCache

# Compact JSON (no spaces): fewer tokens to decode, and the form the reader is trained to write.
_SEPARATORS = (",", ":")
DRAFT_TOKENS = 6  # prompt-lookup draft length: longer drafts are rarely accepted in full
HINT_TOKENS = 24  # a hint is a whole answer: its rest is drafted at once
# A shared prompt prefix this long or longer (an instruction prompt with worked examples) is
# computed once and its KV cache copied per answer; a one-line system prompt is not worth it.
PREFIX_MIN_TOKENS = 64
# A batch takes in new answers while its cache is shorter than this: each joins with the slots
# before it masked, so a batch kept open forever would grow without end.
MAX_BATCH_SLOTS = 512
LOOKUP_NGRAMS = (2, 1)  # match the answer's last 2 tokens in the prompt, else its last one
# Where an object member begins in compact JSON: the brace or comma, then a key of word
# characters. A quote inside a string value is escaped (\"), so string contents never match.
_MEMBER = re.compile(r'[{,]"(\w+)":')
_JSON = json.JSONDecoder()

# A list of ids, a (n,) or (1, n) tensor, or apply_chat_template's mapping with "input_ids".
PromptIds = Sequence[int] | torch.Tensor | Mapping


class DecodingError(RuntimeError):
    """The decoder could not produce a complete answer; the message says why and what to change."""


class DecodingTimeout(DecodingError):
    """The answer was not complete within `timeout_s`."""


class DecodingLengthExceeded(DecodingError):
    """The answer was not complete within `max_new_tokens`."""


@dataclass(frozen=True)
class Decoded:
    """One answer and what it cost, for logs and benchmarks."""

    text: str
    prompt_tokens: int
    new_tokens: int  # tokens of the answer, chosen by the model or forced by the grammar
    forced_tokens: int  # of which jump-forward supplied without a decoding step
    drafted_tokens: int  # of which a draft (prompt lookup or the hint) proposed and the model confirmed
    hinted_tokens: int  # of those, the ones the hint proposed
    chose_hint: bool  # the hint won a near-tie where the model first parted from it (hint_margin)
    forward_passes: int  # model calls, the prompt's included
    prefill_s: float  # until the first model call returned: prompt plus any forced opening
    seconds: float
    # Where the model first parted from the hint: by how many nats it preferred its own token
    # (inf where the grammar refused the hint's), and the key of the member it parted in.
    # None where the answer never parted from a hint (or there was none): for tuning margins.
    parting_nats: float | None = None
    parting_key: str | None = None


class _GrammarCache:
    """One xgrammar compiler per tokenizer; each compiler caches the grammars it compiled per schema.

    Why: building the tokenizer's vocabulary tables takes ~0.25 s and compiling a schema a few
    ms; with the cache, a decoder per schema or per request costs nothing after the first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compilers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def compile(self, tokenizer, vocab_size: int, schema: dict) -> xgr.CompiledGrammar:
        """The compiled grammar for `schema`, over a vocabulary of `vocab_size` (the model's logits width)."""
        with self._lock:
            compiler, info = self._compilers.get(tokenizer, (None, None))
            if compiler is None or info.vocab_size != vocab_size:
                info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
                compiler = xgr.GrammarCompiler(info, max_threads=max(1, torch.get_num_threads()))
                self._compilers[tokenizer] = (compiler, info)
            return _compile_schema(compiler, schema)


def _compile_schema(compiler: xgr.GrammarCompiler, schema: dict) -> xgr.CompiledGrammar:
    """Compile without optional whitespace, so the answer is compact and its keys are forced text."""
    try:
        return compiler.compile_json_schema(schema, any_whitespace=False, separators=_SEPARATORS)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"cannot compile the JSON schema for constrained decoding: {err}") from err


_GRAMMARS = _GrammarCache()


class ConstrainedDecoder:
    """Greedy decoding whose output always parses as JSON and obeys `schema`.

    Each call has its own matcher and cache, but a model's forward passes on CPU do not run
    faster in parallel threads: callers with several answers to decode at once pass them
    together to `decode_batch` (`retrieval.batching` collects them from concurrent turns).
    """

    def __init__(self, model, tokenizer, schema: dict, max_new_tokens: int = 64, jump_forward: bool = True,
                 prompt_lookup: bool = True) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        self.model = model
        self.tokenizer = tokenizer
        self.schema = schema
        self.max_new_tokens = max_new_tokens
        self.jump_forward = jump_forward
        self.prompt_lookup = prompt_lookup
        self._vocab_size = model.config.vocab_size
        self._grammar = _GRAMMARS.compile(tokenizer, self._vocab_size, schema)
        self._token_bytes: list[bytes] = self._grammar.tokenizer_info.decoded_vocab
        self._control_tokens = _control_tokens(self._token_bytes)
        self._cache_kwarg = _cache_kwarg(model)
        self._prefix_lock = threading.Lock()
        self._prefix: tuple[tuple[int, ...], DynamicCache | None] = ((), None)  # the shared prefix's ids, its KV cache

    def _cache_for(self, prompts: list[list[int]], prefix_len: int) -> tuple[DynamicCache, int]:
        """A KV cache for a batch of prompts and how many of their first ids it holds: the
        shared prefix's (computed on first use; one prefix is kept) where every prompt starts
        with it and it is long enough to be worth it, else an empty cache. Short prompts (the
        fine-tuned reader's) stay one forward pass, as measured."""
        if prefix_len < PREFIX_MIN_TOKENS or any(prefix_len >= len(ids) for ids in prompts):
            return DynamicCache(config=self.model.config), 0
        key = tuple(prompts[0][:prefix_len])
        if any(tuple(ids[:prefix_len]) != key for ids in prompts):
            return DynamicCache(config=self.model.config), 0
        with self._prefix_lock:
            if self._prefix[0] != key:
                cache = DynamicCache(config=self.model.config)
                input_ids = torch.tensor([list(key)], dtype=torch.long, device=self.model.device)
                self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **{self._cache_kwarg: cache})
                self._prefix = (key, cache)
            cache = copy.deepcopy(self._prefix[1])
        if len(prompts) > 1:
            cache.batch_repeat_interleave(len(prompts))
        return cache, prefix_len

    def generate(self, prompt_ids: PromptIds, timeout_s: float | None = None, hint: str | None = None,
                 hint_margin: float = 0.0, key_margins: Mapping[str, float] | None = None) -> str:
        """The JSON answer to `prompt_ids` (the chat-templated prompt, generation prompt included).

        Raises DecodingTimeout after `timeout_s` seconds and DecodingLengthExceeded after
        `max_new_tokens` tokens if the answer is still open: never a partial answer. The clock
        is checked between forward passes, so a call can overrun by one pass (at worst the prefill).
        `hint`, a likely answer, changes how many passes it takes, never the answer, unless
        `hint_margin` (nats, >= 0) lets it win the model's near-ties; `key_margins` overrides
        that margin where the parting falls in the member of one of its keys.
        """
        return self.decode(prompt_ids, timeout_s, hint, hint_margin, key_margins).text

    def decode(self, prompt_ids: PromptIds, timeout_s: float | None = None, hint: str | None = None,
               hint_margin: float = 0.0, key_margins: Mapping[str, float] | None = None,
               prefix_len: int = 0) -> Decoded:
        """Like generate, with token counts and timings. `prefix_len`: how many of the prompt's
        first tokens every prompt of this caller shares (a system prompt with worked examples);
        from `PREFIX_MIN_TOKENS` on, their keys and values are computed once and reused."""
        (result,) = self.decode_batch([Request(prompt_ids, timeout_s, hint, hint_margin, key_margins, prefix_len)])
        if isinstance(result, Exception):
            raise result
        return result

    def decode_batch(self, requests: Sequence[Request]) -> list[Decoded | Exception]:
        """The answers to several prompts decoded together (`decode_stream`), in their order."""
        results: list[Decoded | Exception | None] = [None] * len(requests)
        for index, result in self.decode_stream(requests):
            results[index] = result
        return results  # type: ignore[return-value]  # every slot is filled

    def decode_stream(self, requests: Sequence[Request], more: Callable[[], Sequence[Request]] | None = None
                      ) -> Iterator[tuple[int, Decoded | Exception]]:
        """Answers decoded together, each yielded as (its index, its answer) once complete: one
        forward pass per step over every open answer's tokens (what a CPU reads once for the
        whole batch is the weights). Between passes `more()` may return requests that join
        the batch at once (indexed after all before them), while the cache is short enough.
        Each answer has its own matcher, hint and limits and is the one `decode` gives alone
        (up to the float rounding of a batched matmul); a request that fails (a timeout, a bad
        prompt) gets its exception and the others go on."""
        batch = _Batch(self)
        with torch.inference_mode():
            yield from batch.admit(list(requests))
            while batch.rows:
                batch.step()
                yield from batch.close_finished()
                if more is not None and batch.can_admit():
                    yield from batch.admit(list(more()))


@dataclass(frozen=True)
class Request:
    """One answer to decode: the prompt, the caller's hint and limits (see `ConstrainedDecoder.decode`).
    `asked_at` (time.perf_counter()) is when the caller asked: time spent queued counts
    against `timeout_s`."""

    prompt_ids: PromptIds
    timeout_s: float | None = None
    hint: str | None = None
    hint_margin: float = 0.0
    key_margins: Mapping[str, float] | None = None
    prefix_len: int = 0
    asked_at: float | None = None


class _Batch:
    """Open answers decoded together over one KV cache: each step feeds every open answer's
    tokens in one forward pass, left-padded to the longest, so that each answer's last
    positions (whose logits it needs) line up at the right edge. A cache slot a row must not
    see (its padding, a draft token the model refused, what was there before it joined) is
    masked for that row; slots no row needs any more are cut off the end, so a batch of one
    runs exactly as a single answer."""

    def __init__(self, decoder: ConstrainedDecoder) -> None:
        self.decoder = decoder
        self.cache: DynamicCache | None = None
        self.rows: list[tuple[int, _Run]] = []  # (the answer's index, its run), one per row of the cache
        self.seen = torch.ones(0, 0, dtype=torch.bool)  # which cache slots each row attends to
        self.positions: list[int] = []  # each row's next position (its tokens in the cache)
        self.admitted = 0

    def can_admit(self) -> bool:
        return self.seen.shape[1] < MAX_BATCH_SLOTS

    def admit(self, requests: list[Request]) -> Iterator[tuple[int, Decoded | Exception]]:
        """New rows for `requests`; yields those that fail at once (a bad prompt, a request that
        waited out its time) or are complete before any pass."""
        runs = []
        for request in requests:
            try:
                runs.append((self.admitted, _Run(self.decoder, request)))
            except (DecodingError, ValueError) as err:
                yield self.admitted, err
            self.admitted += 1
        if not runs:
            return
        yield from (self._open(runs) if self.cache is None else self._join(runs))

    def _open(self, runs: list[tuple[int, _Run]]) -> Iterator[tuple[int, Decoded | Exception]]:
        """The first rows of a fresh cache: it holds a long prompt prefix they all share, if any."""
        self.cache, cached = self.decoder._cache_for([run.prompt for _, run in runs],
                                                     _shared({run.prefix_len for _, run in runs}))
        self.seen = torch.ones(len(runs), cached, dtype=torch.bool)
        for _, run in runs:
            run.start(cached)
        self.rows += runs
        self.positions += [cached] * len(runs)
        yield from self.close_finished()

    def _join(self, runs: list[tuple[int, _Run]]) -> Iterator[tuple[int, Decoded | Exception]]:
        """Rows for answers that arrive while this batch runs. Their prompts are read in a pass
        of their own, then their cache rows are put beside this batch's: fed in this batch's
        next pass, a long prompt would be padded against every row's one or two tokens."""
        newcomers = _Batch(self.decoder)
        yield from newcomers._open(runs)
        if newcomers.rows:
            newcomers.step()
            yield from newcomers.close_finished()
        if newcomers.rows:
            self._take_rows(newcomers)

    def _take_rows(self, other: _Batch) -> None:
        """`other`'s rows beside these: the shorter cache gets masked slots in front, so that
        both hold as many slots (a row's positions are its own, whatever its slots)."""
        ours, theirs = self.seen.shape[1], other.seen.shape[1]
        _pad_slots(self.cache, theirs - ours)
        _pad_slots(other.cache, ours - theirs)
        self.seen = torch.cat([_pad_front(self.seen, theirs - ours), _pad_front(other.seen, ours - theirs)])
        for layer, joining in zip(self.cache.layers, other.cache.layers):
            layer.keys = torch.cat([layer.keys, joining.keys])
            layer.values = torch.cat([layer.values, joining.values])
        self.rows += other.rows
        self.positions += other.positions

    def step(self) -> None:
        """One forward pass over every row's feed; each run takes its logits."""
        feeds = [run.feed for _, run in self.rows]
        width = max(len(feed) for feed in feeds)
        pads = [width - len(feed) for feed in feeds]
        pad_id = feeds[0][0]  # any id: padding is never attended to
        input_ids = torch.tensor([[pad_id] * pad + feed for pad, feed in zip(pads, feeds)], dtype=torch.long)
        positions = torch.tensor([[0] * pad + list(range(at, at + len(feed)))
                                  for pad, at, feed in zip(pads, self.positions, feeds)], dtype=torch.long)
        new = torch.tensor([[False] * pad + [True] * len(feed) for pad, feed in zip(pads, feeds)])
        self.seen = torch.cat([self.seen, new], dim=1)
        keep = max(run.keep for _, run in self.rows)
        device = self.decoder.model.device
        out = self.decoder.model(
            input_ids=input_ids.to(device), position_ids=positions.to(device), use_cache=True, logits_to_keep=keep,
            attention_mask=None if bool(self.seen.all()) else self.seen.long().to(device),
            **{self.decoder._cache_kwarg: self.cache})
        for row, (_, run) in enumerate(self.rows):
            try:
                refused = run.take(out.logits[row, keep - run.keep:, :].float())
            except DecodingError as err:
                run.error, run.feed = err, []
                continue
            if refused:
                self.seen[row, -refused:] = False
            self.positions[row] += len(feeds[row]) - refused

    def close_finished(self) -> Iterator[tuple[int, Decoded | Exception]]:
        """Yield finished answers and drop their rows; cut slots no row attends to off the end."""
        done = [row for row, (_, run) in enumerate(self.rows) if not run.feed]
        for row in done:
            index, run = self.rows[row]
            yield index, run.error or run.decoded()
        if done:
            open_rows = [row for row, (_, run) in enumerate(self.rows) if run.feed]
            self.rows = [self.rows[row] for row in open_rows]
            self.positions = [self.positions[row] for row in open_rows]
            self.seen = self.seen[open_rows]
            if not open_rows:  # those who join next start a fresh cache
                self.cache, self.seen = None, torch.ones(0, 0, dtype=torch.bool)
                return
            self.cache.batch_select_indices(torch.tensor(open_rows, dtype=torch.long, device=self.decoder.model.device))
        unseen = _trailing_false(self.seen.any(dim=0))
        if unseen:
            self.cache.crop(-unseen)  # negative: that many from the end, in every version
            self.seen = self.seen[:, :-unseen]


def _shared(prefix_lens: set[int]) -> int:
    """The prefix length all runs give, else 0 (no shared prefix cache)."""
    return prefix_lens.pop() if len(prefix_lens) == 1 else 0


def _pad_slots(cache: DynamicCache, count: int) -> None:
    """`count` zero slots in front of every layer of `cache` (nothing where count <= 0)."""
    if count <= 0:
        return
    for layer in cache.layers:
        shape = (*layer.keys.shape[:2], count, layer.keys.shape[3])
        layer.keys = torch.cat([layer.keys.new_zeros(shape), layer.keys], dim=2)
        layer.values = torch.cat([layer.values.new_zeros(shape), layer.values], dim=2)


def _pad_front(seen: torch.Tensor, count: int) -> torch.Tensor:
    """`seen` with `count` unseen slots in front of every row (as it is where count <= 0)."""
    if count <= 0:
        return seen
    return torch.cat([torch.zeros(seen.shape[0], count, dtype=torch.bool), seen], dim=1)


def _trailing_false(flags: torch.Tensor) -> int:
    """How many of a 1-D bool tensor's last entries are False."""
    true = torch.nonzero(flags).flatten()
    return len(flags) - (int(true[-1]) + 1 if len(true) else 0)


class _Run:
    """The state of one answer: matcher, answer so far, what to feed the model next, counters."""

    def __init__(self, decoder: ConstrainedDecoder, request: Request) -> None:
        margins = {None: request.hint_margin, **(request.key_margins or {})}
        for key, margin in margins.items():
            if not margin >= 0:
                name = "hint_margin" if key is None else f"key_margins[{key!r}]"
                raise ValueError(f"{name} must be a number of nats >= 0, got {margin}")
        self.decoder = decoder
        self.started = request.asked_at or time.perf_counter()
        self.deadline = None if request.timeout_s is None else self.started + request.timeout_s
        self.prompt = _as_id_list(request.prompt_ids)
        self.hint = request.hint or ""
        self.margins = margins  # nats by the key of the member the parting falls in; None: any other
        self.chose_hint = False
        self.matcher = xgr.GrammarMatcher(decoder._grammar, terminate_without_stop_token=True)
        self.bitmask = xgr.allocate_token_bitmask(1, decoder._vocab_size)
        self.parting: tuple[float, str | None] | None = None
        self.answer: list[int] = []
        self.forced = 0
        self.drafted = 0
        self.hinted = 0
        self.passes = 0
        self.prefill_s: float | None = None
        self.prefix_len = request.prefix_len
        self.error: DecodingError | None = None  # what ended the answer, where it failed
        self.feed: list[int] = []  # the tokens to feed the model next; none once the answer is complete
        self.draft: tuple[list[int], bool] = ([], False)  # the feed's drafted tail, and whether from the hint
        self._check_limits()  # a request that waited out its time in a queue is not started

    def start(self, cached: int) -> None:
        """The first feed: the prompt after the `cached` ids the cache holds, the opening the
        grammar forces (usually `{"action":"`) and the draft after it (the hint's answer, when
        there is one), all in one pass."""
        opening = self._take_forced()
        if not self.matcher.is_terminated():
            self._feed(self.prompt[cached:] + opening)

    def _feed(self, tokens: list[int]) -> None:
        self.draft = self._draft()
        self.feed = tokens + self.draft[0]

    @property
    def keep(self) -> int:
        """How many of the feed's last positions' logits `take` needs: one per draft token, and the next."""
        return len(self.draft[0]) + 1

    def take(self, rows: torch.Tensor) -> int:
        """Take the logits (keep, vocab) of the last fed positions: keep the draft as far as the
        model agrees, choose the next token, and set the next feed (none once the answer is
        complete). Returns how many fed tokens the model refused (they leave the KV cache)."""
        self.passes += 1
        if self.prefill_s is None:
            self.prefill_s = time.perf_counter() - self.started
        logits, refused = self._verify(*self.draft, rows)
        self.feed = []
        if logits is None or self.matcher.is_terminated():
            return refused
        self._check_limits()
        self._accept(self._pick(logits))
        fed = [self.answer[-1], *self._take_forced()]
        if not self.matcher.is_terminated():
            self._feed(fed)
        return refused

    def decoded(self) -> Decoded:
        parting_nats, parting_key = self.parting or (None, None)
        return Decoded(self._text(), len(self.prompt), len(self.answer), self.forced, self.drafted, self.hinted,
                       self.chose_hint, self.passes, self.prefill_s or 0.0, time.perf_counter() - self.started,
                       parting_nats, parting_key)

    def _draft(self) -> tuple[list[int], bool]:
        """The hint's next tokens while the answer follows it, else prompt lookup, and whether
        they came from the hint; cut where the grammar would refuse them (the matcher is left
        as it was)."""
        hinted = self._hint_draft()
        return (hinted, True) if hinted else (self._lookup_draft(), False)

    def _hint_draft(self) -> list[int]:
        """The rest of the hint, when the answer so far is its beginning (compared as text:
        the forced tokens need not split the text as the hint's tokens do)."""
        so_far = self._text()
        if len(self.hint) <= len(so_far) or not self.hint.startswith(so_far):
            return []
        rest = self.decoder.tokenizer.encode(self.hint[len(so_far):], add_special_tokens=False)
        return self._grammatical_prefix(rest[:HINT_TOKENS])

    def _lookup_draft(self) -> list[int]:
        """Prompt lookup: the tokens that followed the answer's last n-gram in the prompt."""
        if not self.decoder.prompt_lookup:
            return []
        for n in LOOKUP_NGRAMS:
            start = _after_last(self.prompt, self.answer[-n:]) if len(self.answer) >= n else None
            if start is not None:
                return self._grammatical_prefix(self.prompt[start:start + DRAFT_TOKENS])
        return []

    def _grammatical_prefix(self, tokens: list[int]) -> list[int]:
        return tokens[:self._probe(tokens)[0]]

    def _probe(self, tokens: list[int]) -> tuple[int, bool]:
        """How many of `tokens` the grammar accepts in a row here, and whether they complete
        the answer; the matcher is left as it was."""
        accepted = 0
        for token in tokens:
            if self.matcher.is_terminated() or not self.matcher.accept_token(token):
                break
            accepted += 1
        completes = self.matcher.is_terminated()
        if accepted:
            self.matcher.rollback(accepted)
        return accepted, completes

    def _verify(self, draft: list[int], from_hint: bool, rows: torch.Tensor) -> tuple[torch.Tensor | None, int]:
        """Keep the draft up to the first token the model would not have chosen; the logits
        for the next choice (None once the answer is complete) and how many draft tokens the
        model refused."""
        for i, token in enumerate(draft):
            allowed = self._allowed(rows[i:i + 1])
            choice = _best(allowed)
            if choice != token:
                if from_hint and self._near_tie(allowed, choice, token) and self._take_rest_of_hint():
                    return None, len(draft) - i
                return rows[i:i + 1], len(draft) - i
            self._accept(token)
            self.drafted += 1
            self.hinted += from_hint
            if self.matcher.is_terminated():
                return None, 0
        return rows[len(draft):], 0

    def _near_tie(self, allowed: torch.Tensor, choice: int, token: int) -> bool:
        """Whether the hint's `token` is within the margin of the model's `choice`, by the
        logits `_allowed` masked here; the margin of the hint's member the answer parts in."""
        token_bytes = self.decoder._token_bytes
        key = member_key(self.hint, parting_offset(self._text(), token_bytes[choice], token_bytes[token]))
        margin = self.margins.get(key, self.margins[None])
        logprobs = torch.log_softmax(allowed[0], dim=-1)
        if self.parting is None:
            self.parting = (float(logprobs[choice] - logprobs[token]), key)
        if not margin:
            return False
        return bool(logprobs[token] >= logprobs[choice] - margin)

    def _take_rest_of_hint(self) -> bool:
        """Finish the answer with the rest of the hint, if the grammar takes all of it as a
        complete answer; else leave everything as it was and return False."""
        rest = self.decoder.tokenizer.encode(self.hint[len(self._text()):], add_special_tokens=False)
        accepted, completes = self._probe(rest)
        if accepted < len(rest) or not completes:
            return False
        for token in rest:
            self._accept(token)
        self.chose_hint = True
        return True

    def _pick(self, logits: torch.Tensor) -> int:
        """The most likely token the grammar allows here, by `logits` (1, vocab)."""
        return _best(self._allowed(logits))

    def _allowed(self, logits: torch.Tensor) -> torch.Tensor:
        """`logits` (1, vocab) on the CPU with what the grammar forbids here at -inf."""
        self.matcher.fill_next_token_bitmask(self.bitmask)
        logits = logits.cpu() if logits.device.type != "cpu" else logits
        xgr.apply_token_bitmask_inplace(logits, self.bitmask, vocab_size=self.decoder._vocab_size)
        logits[:, self.decoder._control_tokens] = float("-inf")
        return logits

    def _take_forced(self) -> list[int]:
        """Tokens the grammar forces next, accepted already (none without jump-forward).

        First xgrammar's jump-forward tokens (the forced text, longest vocabulary tokens
        first), then any single token the grammar still allows, one at a time: often the
        closing `}` or the end of an enum value, which the model would have to pick anyway.
        """
        if not self.decoder.jump_forward:
            return []
        tokens = self.matcher.find_jump_forward_tokens()
        for token in tokens:
            self._accept(token)
        while not self.matcher.is_terminated() and (only := self._only_allowed_token()) is not None:
            self._accept(only)
            tokens.append(only)
        self.forced += len(tokens)
        return tokens

    def _only_allowed_token(self) -> int | None:
        """The one token the grammar allows next, or None when it allows several."""
        self.matcher.fill_next_token_bitmask(self.bitmask)
        words = self.bitmask.numpy().view(np.uint8)
        allowed = np.flatnonzero(np.unpackbits(words, bitorder="little")[: self.decoder._vocab_size])
        return int(allowed[0]) if len(allowed) == 1 else None

    def _accept(self, token: int) -> None:
        if not self.matcher.accept_token(token):
            shown = self.decoder._token_bytes[token]
            raise DecodingError(f"the grammar matcher rejected token {token} ({shown!r}) after {self._text()!r}")
        self.answer.append(token)

    def _check_limits(self) -> None:
        """Stop with a clear error rather than return an answer that is still open."""
        now = time.perf_counter()
        if self.deadline is not None and now >= self.deadline:
            raise DecodingTimeout(
                f"no complete JSON answer after {now - self.started:.2f} s (timeout_s="
                f"{self.deadline - self.started:g}); so far: {self._text()!r}"
            )
        if len(self.answer) >= self.decoder.max_new_tokens:
            raise DecodingLengthExceeded(
                f"no complete JSON answer within max_new_tokens={self.decoder.max_new_tokens}; so far: "
                f"{self._text()!r}. Raise max_new_tokens or bound the schema's strings with maxLength."
            )

    def _text(self) -> str:
        """The answer exactly as the matcher saw it (byte-level tokens joined, then UTF-8)."""
        raw = b"".join(self.decoder._token_bytes[token] for token in self.answer)
        return raw.decode("utf-8", errors="replace")


def parting_offset(so_far: str, choice: bytes, token: bytes) -> int:
    """Where, in characters of the hint, the model's next token `choice` first differs from
    the hint's `token` after the shared answer `so_far`. Tokens can share their first
    characters: after `..."colour":"Green` the model's `"}` and the hint's `","` part at the
    comma, which opens the hint's next member, not in the colour's value."""
    shared = len(os.path.commonprefix([choice, token]))
    return len(so_far) + len(token[:shared].decode("utf-8", errors="ignore"))


def member_key(text: str, offset: int) -> str | None:
    """The key of the innermost object member of compact JSON `text` that position `offset`
    falls in, a member running from the brace or comma before its key to the end of its value
    (`{"set":{"type":"Kurtis"}}`: "type" at "Kurtis", "set" at the brace after it); None
    outside every member. A value that does not parse (a malformed hint) runs to the end."""
    key = None
    for member in _MEMBER.finditer(text):
        if member.start() > offset:
            break
        if offset < _value_end(text, member.end()):
            key = member.group(1)
    return key


def _value_end(text: str, start: int) -> int:
    try:
        return _JSON.raw_decode(text, start)[1]
    except json.JSONDecodeError:
        return len(text)


def _best(allowed: torch.Tensor) -> int:
    """The most likely token of masked logits (1, vocab)."""
    return int(torch.argmax(allowed, dim=-1).item())


def _after_last(sequence: list[int], ngram: list[int]) -> int | None:
    """The position just after the last occurrence of `ngram` in `sequence`, if any."""
    n = len(ngram)
    for start in range(len(sequence) - n, -1, -1):
        if sequence[start:start + n] == ngram:
            return start + n
    return None


def _control_tokens(token_bytes: list[bytes]) -> torch.Tensor:
    """Ids of tokens holding a byte below 0x20 (tab, newline, other control characters).

    Why: JSON forbids raw control characters inside strings, and without optional whitespace
    the grammar never needs one elsewhere, yet xgrammar 0.2.x lets them into strings that carry
    maxLength/minLength (mlc-ai/xgrammar#800, #286): `{"text":"a<TAB>b"}` would pass the
    matcher and fail `json.loads`. Banning these tokens closes that hole for every schema.
    """
    return torch.tensor([i for i, raw in enumerate(token_bytes) if any(byte < 0x20 for byte in raw)], dtype=torch.long)


def _cache_kwarg(model) -> str:
    """The forward argument that takes the KV cache: `cache` from transformers 5.24 on
    (where `past_key_values` is deprecated, to be removed in 5.40), `past_key_values` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _as_id_list(prompt_ids: PromptIds) -> list[int]:
    """A flat list of ids from a list, a (1, n) / (n,) tensor, or what `apply_chat_template`
    returns in transformers 5 (a mapping with "input_ids"); one prompt, not a batch."""
    if isinstance(prompt_ids, Mapping):
        if "input_ids" not in prompt_ids:
            raise ValueError(f"prompt_ids is a mapping without 'input_ids' (keys: {sorted(prompt_ids)})")
        prompt_ids = prompt_ids["input_ids"]
    if isinstance(prompt_ids, torch.Tensor):
        prompt_ids = prompt_ids.tolist()
    if prompt_ids and isinstance(prompt_ids[0], (list, tuple)):
        if len(prompt_ids) != 1:
            raise ValueError(f"prompt_ids must be one prompt, got a batch of {len(prompt_ids)}")
        prompt_ids = prompt_ids[0]
    ids = [int(token) for token in prompt_ids]
    if not ids:
        raise ValueError("prompt_ids is empty: pass the chat-templated prompt (apply_chat_template)")
    return ids
