"""The official openai package's client, pointed at `keel serve`, asks a served Keel agent.

    python openai_client.py BASE_URL API_KEY MODEL QUESTION

Prints one JSON object: the plain answer, the streamed pieces and the usage of both.
"""
import json
import sys

from openai import OpenAI

base_url, api_key, model, question = sys.argv[1:5]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=60)
messages = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": question},
]
plain = client.chat.completions.create(model=model, messages=messages)
pieces = []
usage = None
stream = client.chat.completions.create(model=model, messages=messages, stream=True, stream_options={"include_usage": True})
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage.total_tokens
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
try:
    client.chat.completions.create(model="no-such-agent", messages=messages)
    missing = "answered"
except Exception as error:  # the package's NotFoundError
    missing = type(error).__name__
print(json.dumps({
    "id": plain.id,
    "answer": plain.choices[0].message.content,
    "finish_reason": plain.choices[0].finish_reason,
    "total_tokens": plain.usage.total_tokens,
    "pieces": pieces,
    "stream_total_tokens": usage,
    "missing": missing,
}))
