"""A small OTLP/HTTP receiver of traces and metrics for Keel's tests, built on opentelemetry-proto.

    python otlp_receiver.py FOLDER

Listens on a free loopback port and prints its address once it accepts connections. Every
POST /v1/traces is decoded as an ExportTraceServiceRequest; each span becomes one JSON line of
FOLDER/spans.jsonl (ids in hex, attributes as plain values). Every POST /v1/metrics is decoded as
an ExportMetricsServiceRequest; each data point becomes one JSON line of FOLDER/metrics.jsonl
(name, kind, attributes, and the value of a sum or gauge or the count and sum of a histogram).
Every byte received — request line, headers and body — is appended to FOLDER/received.bin, so
that a test can search it all.
"""
import gzip
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
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


def number(point):
    return point.as_int if point.WhichOneof("value") == "as_int" else point.as_double


def metric_lines(body):
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    request.ParseFromString(body)
    lines = []
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                for point in getattr(metric, kind).data_points:
                    line = {"name": metric.name, "kind": kind, "attributes": {item.key: plain(item.value) for item in point.attributes}}
                    if kind in ("sum", "gauge"):
                        line["value"] = number(point)
                    else:
                        line["count"] = point.count
                        line["sum"] = point.sum
                    lines.append(json.dumps(line))
    return lines, metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()


def span_lines(body):
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
    return lines, trace_service_pb2.ExportTraceServiceResponse().SerializeToString()


ROUTES = {"/v1/traces": ("spans.jsonl", span_lines), "/v1/metrics": ("metrics.jsonl", metric_lines)}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with open(os.path.join(folder, "received.bin"), "ab") as received:
            received.write(f"{self.requestline}\n{self.headers}".encode())
            received.write(body)
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path not in ROUTES:
            self.send_response(404)
            self.end_headers()
            return
        name, decode = ROUTES[self.path]
        lines, reply = decode(body)
        with open(os.path.join(folder, name), "a") as output:
            output.write("".join(line + "\n" for line in lines))
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
