"""A small OTLP/HTTP trace receiver for Keel's tests, built on opentelemetry-proto.

    python otlp_receiver.py FOLDER

Listens on a free loopback port and prints its address once it accepts connections. Every
POST /v1/traces is decoded as an ExportTraceServiceRequest; each span becomes one JSON line of
FOLDER/spans.jsonl (ids in hex, attributes as plain values), and every byte received — request
line, headers and body — is appended to FOLDER/received.bin, so that a test can search it all.
"""
import gzip
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

folder = sys.argv[1]


def plain(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: plain(item.value) for item in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with open(os.path.join(folder, "received.bin"), "ab") as received:
            received.write(f"{self.requestline}\n{self.headers}".encode())
            received.write(body)
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        lines = []
        for resource_spans in request.resource_spans:
            resource = {item.key: plain(item.value) for item in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.kind,
                        "status": span.status.code,
                        "attributes": {item.key: plain(item.value) for item in span.attributes},
                        "service": resource.get("service.name"),
                    }))
        with open(os.path.join(folder, "spans.jsonl"), "a") as spans:
            spans.write("".join(line + "\n" for line in lines))
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *arguments):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
