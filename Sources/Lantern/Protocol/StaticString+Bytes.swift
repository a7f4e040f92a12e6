extension StaticString {
    /// The literal's UTF-8 bytes. Safe for one-scalar literals too, which `utf8Start` is not.
    public var utf8Bytes: [UInt8] { withUTF8Buffer { Array($0) } }
}
