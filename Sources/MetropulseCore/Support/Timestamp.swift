/// Conversions between epoch milliseconds (the model's time unit) and ISO 8601 UTC text.
///
/// Every instant that comes from outside (a feed, a header, a request) goes through one of the
/// checked conversions here, so no value a publisher or a client sends can overflow the
/// arithmetic done on times later.
public enum Timestamp {
    /// The instants the model can show: from 0001-01-01 to the end of 9999, epoch ms.
    public static let representable: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999
    /// The instants a feed may report: from 1970 to the end of 9999, epoch ms. Anything else is
    /// a corrupt value, treated as absent or rejected with the entity.
    public static let feedRange: ClosedRange<Int64> = 0...253_402_300_799_999

    /// POSIX seconds as epoch ms when they fall in `range`; nil otherwise.
    public static func millis(seconds: Int64, in range: ClosedRange<Int64> = feedRange) -> Int64? {
        let (value, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return !overflow && range.contains(value) ? value : nil
    }

    /// POSIX seconds with a fraction as epoch ms (rounded) when finite and in `range`.
    public static func millis(seconds: Double, in range: ClosedRange<Int64> = feedRange) -> Int64? {
        millis(exactly: seconds * 1000, in: range)
    }

    /// A count of milliseconds given as a floating-point number, rounded, when finite and in `range`.
    public static func millis(exactly value: Double, in range: ClosedRange<Int64> = feedRange) -> Int64? {
        guard value.isFinite, value >= Double(range.lowerBound), value <= Double(range.upperBound) else { return nil }
        return Int64(value.rounded())
    }

    /// `2025-10-18T09:11:19.000Z`; instants outside `representable` are shown at its bounds.
    public static func iso8601(_ millis: Int64) -> String {
        let millis = min(max(millis, representable.lowerBound), representable.upperBound)
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = Int(millis - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civil(fromDays: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(ms, 3))Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM|±HHMM]`; a missing zone means UTC.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var value = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        guard b.count >= 19, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 32, b[13] == 58, b[16] == 58,
            let year = num(0, 4), let month = num(5, 2), let day = num(8, 2),
            let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var millis = 0
        if index < b.count, b[index] == 46 {
            index += 1
            var digits = 0
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                if digits < 3 { millis = millis * 10 + Int(b[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { millis *= 10 } }
        }
        var offsetSeconds = 0
        if index < b.count {
            if b[index] == 90 {
                index += 1
            } else if b[index] == 43 || b[index] == 45 {
                let sign = b[index] == 45 ? -1 : 1
                guard let oh = num(index + 1, 2) else { return nil }
                var next = index + 3
                if next < b.count, b[next] == 58 { next += 1 }
                guard let om = num(next, 2) else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
                index = next + 2
            }
        }
        guard index == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1000 + Int64(millis)
    }

    /// Parses an HTTP date in the IMF-fixdate form (`Wed, 21 Oct 2015 07:28:00 GMT`), the only
    /// form servers may send today; epoch milliseconds, or nil.
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]),
            (1...9999).contains(year)
        else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (1...31).contains(day), (0..<24).contains(clock[0]), (0..<60).contains(clock[1]),
            (0..<61).contains(clock[2])
        else { return nil }
        let days = daysFromCivil(year: year, month: monthIndex + 1, day: day)
        return (days * 86_400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2])) * 1000
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// Howard Hinnant's days-from-civil algorithm.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
