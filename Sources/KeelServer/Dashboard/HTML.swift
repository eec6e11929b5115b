import Foundation

/// Small helpers for the dashboard's server-rendered pages.
enum HTML {
    /// `text` with the characters HTML gives meaning to escaped.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// A whole page: the navigation (when signed in) and `body`.
    static func page(_ title: String, signedIn: (name: String, tenant: String, csrf: String)?, _ body: String, script: String? = nil) -> String {
        let navigation = signedIn.map { who in
            """
            <nav><a href="/">Runs</a> <a href="/approvals">Approvals</a> <a href="/dead-letters">Dead letters</a> <a href="/costs">Costs</a>
            <span class="who">\(escape(who.name)) · \(escape(who.tenant))</span>
            <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="\(escape(who.csrf))"><button>Sign out</button></form></nav>
            """
        } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · Keel</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="stylesheet" href="/ui/style.css"></head>
            <body>\(navigation)<main><h1>\(escape(title))</h1>
            \(body)</main>\(script.map { "<script src=\"\($0)\"></script>" } ?? "")</body></html>
            """
    }

    static func money(_ dollars: Double) -> String { String(format: "$%.4f", dollars) }

    static func time(_ date: Date?) -> String {
        guard let date else { return "" }
        return ISO8601DateFormatter().string(from: date)
    }

    /// A bar chart of `rows` (label, value) as inline SVG.
    static func bars(_ rows: [(String, Double)], title: String) -> String {
        guard let largest = rows.map(\.1).max(), largest > 0 else { return "<p>No spending yet.</p>" }
        let height = 24
        var svg = "<svg role=\"img\" aria-label=\"\(escape(title))\" width=\"640\" height=\"\(rows.count * height + 10)\" xmlns=\"http://www.w3.org/2000/svg\">"
        for (index, (label, value)) in rows.enumerated() {
            let width = max(1, Int(400 * value / largest))
            let y = index * height + 5
            svg += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"12\">\(escape(String(label.prefix(28))))</text>"
            svg += "<rect x=\"190\" y=\"\(y)\" width=\"\(width)\" height=\"18\" fill=\"#3b6ea5\"></rect>"
            svg += "<text x=\"\(196 + width)\" y=\"\(y + 15)\" font-size=\"12\">\(money(value))</text>"
        }
        return svg + "</svg>"
    }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:0;color:#222}nav{background:#1f3b57;padding:.6em 1em}nav a{color:#fff;margin-right:1em}
        nav .who{color:#cfe;margin:0 1em}main{padding:1em 2em}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;font-size:14px}
        .inline{display:inline}.status-completed{color:#27632a}.status-failed{color:#a22}.status-waiting{color:#a66b00}textarea{width:28em;height:4em}
        .card{border:1px solid #ccc;border-radius:6px;padding:.8em;margin:.6em 0}.error{color:#a22}
        """

    /// The run page's script: follows the run's live events and adds or updates its steps' rows.
    static let runScript = """
        (function () {
          var table = document.getElementById('steps');
          var status = document.getElementById('status');
          if (!table) return;
          var source = new EventSource('/v1/runs/' + encodeURIComponent(table.dataset.run) + '/events');
          source.addEventListener('step', function (event) {
            var step = JSON.parse(event.data);
            var id = 'step-' + step.address;
            var row = document.getElementById(id);
            if (!row) { row = table.tBodies[0].insertRow(-1); row.id = id; for (var i = 0; i < 7; i++) row.insertCell(-1); }
            var latency = step.duration_ms != null ? (step.duration_ms + ' ms') : '';
            var cells = [step.address, step.name, step.kind, step.status,
              step.usage ? (step.usage.input_tokens + ' / ' + step.usage.output_tokens) : '',
              step.cost_usd != null ? ('$' + step.cost_usd.toFixed(4)) : '', latency];
            for (var j = 0; j < cells.length; j++) row.cells[j].textContent = cells[j];
          });
          source.addEventListener('run', function (event) {
            var run = JSON.parse(event.data);
            status.textContent = run.status; status.className = 'status-' + run.status;
            source.close();
          });
        })();
        """
}
