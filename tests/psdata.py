"""Small data builders shared by tests (a module of its own: every test folder may have a conftest)."""
import json
from pathlib import Path


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


SENTIMENT_WORDS = {"positive": ["great", "lovely", "superb", "excellent"],
                   "negative": ["awful", "terrible", "bad", "dreadful"]}


def sentiment_rows(n: int, offset: int = 0):
    rows = []
    for i in range(n):
        label = "positive" if (i + offset) % 2 == 0 else "negative"
        word = SENTIMENT_WORDS[label][(i + offset) % 4]
        rows.append({"review": f"item {i + offset} was {word}, I think it is {label}", "label": label})
    return rows


def send_json(handler, status: int, body) -> None:
    """Answer an http.server request with a JSON body (scripted API servers in tests)."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
