/// A publisher's label as a metric-name part: lower case, letters and digits, runs of anything
/// else as one `_`, at most 40 characters (`Noise - Residential` → `noise_residential`,
/// `SUN` → `sun`, `Heat/Hot Water` → `heat_hot_water`).
enum MetricSlug {
    static func make(_ label: String) -> String {
        var out = ""
        for scalar in label.lowercased().unicodeScalars {
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else if !out.isEmpty, out.last != "_" {
                out.append("_")
            }
            if out.count >= 40 { break }
        }
        while out.last == "_" { out.removeLast() }
        return out.isEmpty ? "other" : out
    }
}
