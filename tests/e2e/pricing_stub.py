"""A local stand-in for the AWS Price List Query API (moto has none): it
answers GetProducts (JSON 1.1, X-Amz-Target AWSPriceListService.GetProducts)
as AWS does, PriceList entries being JSON documents in strings, paged by
MaxResults and NextToken, filtered by TERM_MATCH on instanceType and
regionCode. Only 127.0.0.1.

    stub = PricingStub({"t3.medium": 0.05}).start()
    env["AWS_ENDPOINT_URL_PRICING"] = stub.endpoint
    stub.requests      # the bodies of the requests it answered
    stub.status = 503  # answer every request with this error instead
    stub.stop()
"""
import http.server
import json
import threading
import zlib


def product(instance_type, region, usd):
    """One PriceList entry, shaped as AWS's (the fields hoist reads and a few beside)."""
    sku = "SKU%010d" % zlib.crc32(("%s/%s" % (instance_type, region)).encode())
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "sku": sku,
                    "attributes": {"instanceType": instance_type, "regionCode": region,
                                   "operatingSystem": "Linux", "tenancy": "Shared",
                                   "preInstalledSw": "NA", "capacitystatus": "Used",
                                   "marketoption": "OnDemand", "servicecode": "AmazonEC2"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {sku + ".JRTCKXETXF": {
            "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
            "priceDimensions": {sku + ".JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0",
                "description": "$%s per On Demand Linux %s Instance Hour" % (usd, instance_type),
                "rateCode": sku + ".JRTCKXETXF.6YS6EN2CT7",
                "pricePerUnit": {"USD": "%.10f" % usd}}}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z"})


class PricingStub:
    def __init__(self, prices, region="us-east-1"):
        self.prices = dict(prices)
        self.region = region
        self.requests = []
        self.status = None
        self.server = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def start(self):
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.requests.append({"target": self.headers.get("X-Amz-Target"),
                                      "authorization": self.headers.get("Authorization", ""),
                                      "body": json.loads(body or b"{}")})
                if stub.status:
                    return self.reply(stub.status, {"__type": "InternalErrorException", "Message": "stub"})
                if self.headers.get("X-Amz-Target") != "AWSPriceListService.GetProducts":
                    return self.reply(400, {"__type": "UnknownOperationException"})
                self.reply(200, stub.answer(stub.requests[-1]["body"]))

            def reply(self, status, doc):
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def answer(self, body):
        match = {f["Field"]: f["Value"] for f in body.get("Filters", []) if f.get("Type") == "TERM_MATCH"}
        if body.get("ServiceCode") != "AmazonEC2" or match.get("regionCode") != self.region:
            return {"FormatVersion": "aws_v1", "PriceList": []}
        names = sorted(t for t in self.prices if match.get("instanceType") in (None, t))
        start = int(body.get("NextToken") or 0)
        size = int(body.get("MaxResults") or 100)
        page = names[start:start + size]
        out = {"FormatVersion": "aws_v1",
               "PriceList": [product(t, self.region, self.prices[t]) for t in page]}
        if start + size < len(names):
            out["NextToken"] = str(start + size)
        return out

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
