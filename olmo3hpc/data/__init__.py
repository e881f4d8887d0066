"""Data pipeline: chat templates + label masks, dataset mixing, tokenization cache, packing, sampling.

API for the stages (import from the submodules; this package imports nothing heavy):

Templates (`olmo3hpc.data.templates`)
    CHAT_TEMPLATES: dict[name, jinja]     olmo, olmo_thinker, olmo_thinker_no_think_7b,
                                          olmo_thinker_no_think_sft_tokenization, olmo_thinker_rlzero,
                                          olmo_thinker_code_rlzero (`tokenizer` = the tokenizer's own)
    set_chat_template(tokenizer, name) -> tokenizer   set before saving/exporting the tokenizer
    ChatRenderer.for_tokenizer(tokenizer, name)       .render(messages, add_generation_prompt)
                                                      .render_with_spans(messages) -> (text, spans)
Tokenizing (`olmo3hpc.data.encode`)
    encode_chats(tokenizer, renderer, conversations, max_len=0, last_turn_only=False) -> list[Encoded]
        (ids int32, mask bool, .labels = ids or -100). Masks come from the template's {% generation %}
        spans; a template without them (model.chat_template=tokenizer) gets open-instruct's
        prefix-rendering masks. encode_prompts(tokenizer, renderer, prompts) -> list[ids]
    IGNORE_INDEX = -100
Preference pairs (`olmo3hpc.data.preference`)
    encode_pairs(tokenizer, renderer, rows, max_len) -> list[Pair(chosen, rejected) | None]
RL prompts (`olmo3hpc.data.prompts`)
    encode_prompt_rows(tokenizer, renderer, rows, messages_key, ground_truths_key, max_prompt_length)
        -> list[Prompt(ids, ground_truth: list, dataset: list[str], raw_prompt) | None]
    prompt_messages(messages): drops a trailing assistant turn
Cache (`olmo3hpc.data.cache`)
    build_cache(run, tokenizer=None, which="train"|"eval") -> Path   (CPU pre-tokenization job)
    open_cache(run, tokenizer=None, which="train") -> TokenCache: .streams[name] memory-mapped
        RaggedArray (.ids(i), .mask(i), .lengths, len()); sft "doc", dpo "chosen"/"rejected",
        rl "prompt" + .prompt_rows[i] = {ground_truth, dataset, raw_prompt}; .meta (stats, pad id)
SFT rows (`olmo3hpc.data.sft_rows`, `olmo3hpc.data.packing`)
    rows = SFTRows.from_run(run, tokenizer)   rows[i] -> PackedRow(input_ids, labels, position_ids,
        doc_ids, doc_lens); packed by best-fit decreasing (ties broken by data.shuffle_seed) when
        data.packing, else one doc per row; rows.batch(items) -> numpy input_ids/labels/position_ids
        [len(items), max_seq_length] (what the SFT stage trains on)
    best_fit_decreasing(lengths, capacity, order) / greedy_in_order / assemble(docs, length, pad_id)
    collate(list[PackedRow], pad_id, length=0) -> dict of torch tensors (+ cu_seqlens, max_seqlen)
    Epoch order and exact resume: `olmo3hpc.engine.order.TrainOrder` (step-addressable, seeded per epoch).
Errors: `olmo3hpc.data.rows.DataError` names file:line; `data.skip_malformed` skips and counts instead.
"""
