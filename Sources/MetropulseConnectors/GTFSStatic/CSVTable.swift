/// A CSV file as GTFS writes it (RFC 4180): a header row, fields separated by commas, optionally
/// quoted with `""` for a quote inside; LF or CRLF line ends; a UTF-8 byte-order mark allowed.
struct CSVTable {
    struct Failure: Error, CustomStringConvertible {
        var file: String
        var line: Int
        var reason: String
        var description: String { "\(file) line \(line): \(reason)" }
    }

    let file: String
    let header: [String]
    let rows: [[String]]
    private let columns: [String: Int]

    init(_ bytes: [UInt8], file: String) throws {
        self.file = file
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var fieldWasQuoted = false
        var line = 1
        var index = start
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func endRecord() {
            endField()
            // A blank line is not a record.
            if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
            record.removeAll(keepingCapacity: true)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if byte == 0x0A { line += 1 }
                    field.append(byte)
                }
            } else {
                switch byte {
                case UInt8(ascii: ","): endField()
                case UInt8(ascii: "\""):
                    guard field.isEmpty, !fieldWasQuoted else {
                        throw Failure(file: file, line: line, reason: "a quote inside an unquoted field")
                    }
                    quoted = true
                    fieldWasQuoted = true
                case 0x0D where index + 1 < bytes.count && bytes[index + 1] == 0x0A: break
                case 0x0A:
                    endRecord()
                    line += 1
                default: field.append(byte)
                }
            }
            index += 1
        }
        if quoted { throw Failure(file: file, line: line, reason: "a quoted field is not closed") }
        if !field.isEmpty || !record.isEmpty { endRecord() }
        guard let header = records.first else { throw Failure(file: file, line: 1, reason: "no header row") }
        self.header = header.map { $0.trimmingSpaces() }
        rows = Array(records.dropFirst())
        var columns: [String: Int] = [:]
        for (position, name) in self.header.enumerated() where columns[name] == nil { columns[name] = position }
        self.columns = columns
    }

    func has(_ column: String) -> Bool { columns[column] != nil }

    /// The row's value in `column`, nil when the column or the value is missing or empty.
    func value(_ row: [String], _ column: String) -> String? {
        guard let position = columns[column], position < row.count else { return nil }
        let value = row[position].trimmingSpaces()
        return value.isEmpty ? nil : value
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(self[first...last])
    }
}
