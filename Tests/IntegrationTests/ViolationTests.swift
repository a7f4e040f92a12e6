import Foundation
import Testing

/// One protocol violation: the frames a client sends and the close codes the server may answer with.
struct Violation: Sendable, CustomTestStringConvertible {
    let name: String
    let frames: [[UInt8]]
    let codes: [UInt16?]
    var serverArguments: [String] = []

    var testDescription: String { name }

    static func frame(fin: Bool = true, rsv: UInt8 = 0, _ opcode: UInt8, _ payload: [UInt8] = [],
                      masked: Bool = true, length: UInt64? = nil) -> [UInt8] {
        RawClient.encodeFrame(fin: fin, rsv: rsv, opcode: opcode, payload: payload, masked: masked, length: length)
    }

    /// RFC 6455 §5.2, §5.4, §5.5, §5.6, §8.1 violations (spec item 5).
    static let all: [Violation] = {
        let hi = Array("hi".utf8)
        var cases: [Violation] = [
            Violation(name: "RSV1 without extension", frames: [frame(rsv: 0x40, Op.text, hi)], codes: [1002]),
            Violation(name: "RSV2", frames: [frame(rsv: 0x20, Op.text, hi)], codes: [1002]),
            Violation(name: "RSV3", frames: [frame(rsv: 0x10, Op.text, hi)], codes: [1002]),
            Violation(name: "RSV1 on ping", frames: [frame(rsv: 0x40, Op.ping, hi)], codes: [1002]),
            Violation(name: "unmasked text frame", frames: [frame(Op.text, hi, masked: false)], codes: [1002]),
            Violation(name: "unmasked close frame", frames: [frame(Op.close, [0x03, 0xE8], masked: false)], codes: [1002]),
            Violation(name: "ping with 126-byte payload", frames: [frame(Op.ping, Payload.binary(126))], codes: [1002]),
            Violation(name: "close with 126-byte payload", frames: [frame(Op.close, [0x03, 0xE8] + Payload.text(124))], codes: [1002]),
            Violation(name: "fragmented ping (FIN=0)", frames: [frame(fin: false, Op.ping, hi)], codes: [1002]),
            Violation(name: "continuation without a start", frames: [frame(Op.continuation, hi)], codes: [1002]),
            Violation(name: "continuation FIN=0 without a start", frames: [frame(fin: false, Op.continuation, hi)], codes: [1002]),
            Violation(name: "text while a fragmented text is open",
                      frames: [frame(fin: false, Op.text, hi), frame(Op.text, hi)], codes: [1002]),
            Violation(name: "binary while a fragmented text is open",
                      frames: [frame(fin: false, Op.text, hi), frame(Op.binary, hi)], codes: [1002]),
            Violation(name: "invalid UTF-8 text C0 AF", frames: [frame(Op.text, [0xC0, 0xAF])], codes: [1007]),
            Violation(name: "invalid UTF-8 text (surrogate ED A0 80)", frames: [frame(Op.text, Array("ok".utf8) + [0xED, 0xA0, 0x80])], codes: [1007]),
            Violation(name: "invalid UTF-8 text FF", frames: [frame(Op.text, [0xFF])], codes: [1007]),
            Violation(name: "invalid UTF-8 text over U+10FFFF (F4 90 80 80)", frames: [frame(Op.text, [0xF4, 0x90, 0x80, 0x80])], codes: [1007]),
            Violation(name: "text ending inside a code point", frames: [frame(Op.text, [0x68, 0xCE])], codes: [1007]),
            Violation(name: "text ending inside a code point across fragments",
                      frames: [frame(fin: false, Op.text, [0x68]), frame(Op.continuation, [0xE2, 0x9C])], codes: [1007]),
            // Fail fast (RFC 6455 §8.1): the close must come before the message ends; nothing more is sent.
            Violation(name: "invalid first fragment C0 AF, message left open",
                      frames: [frame(fin: false, Op.text, [0xC0, 0xAF])], codes: [1007]),
            Violation(name: "invalid first fragment ED A0 80, message left open",
                      frames: [frame(fin: false, Op.text, [0xED, 0xA0, 0x80])], codes: [1007]),
            Violation(name: "invalid bytes in a middle fragment, message left open",
                      frames: [frame(fin: false, Op.text, Array("hello".utf8)), frame(fin: false, Op.continuation, [0xCE, 0xBA, 0xFF])], codes: [1007]),
            // Limits: --max-message-bytes is inclusive (1000 allowed, 1001 not).
            Violation(name: "text of 1001 bytes over a 1000 limit", frames: [frame(Op.text, Payload.text(1001))],
                      codes: [1009], serverArguments: ["--max-message-bytes", "1000"]),
            Violation(name: "binary of 1001 bytes over a 1000 limit", frames: [frame(Op.binary, Payload.binary(1001))],
                      codes: [1009], serverArguments: ["--max-message-bytes", "1000"]),
            Violation(name: "fragmented 600 + 401 over a 1000 limit",
                      frames: [frame(fin: false, Op.binary, Payload.binary(600)), frame(Op.continuation, Payload.binary(401))],
                      codes: [1009], serverArguments: ["--max-message-bytes", "1000"]),
            Violation(name: "fragmented 600 + 600 over a 1000 limit, message left open",
                      frames: [frame(fin: false, Op.text, Payload.text(600)), frame(fin: false, Op.continuation, Payload.text(600))],
                      codes: [1009], serverArguments: ["--max-message-bytes", "1000"]),
            Violation(name: "advertised 1001 bytes over a 1000 limit, header only",
                      frames: [frame(Op.binary, [], length: 1001)],
                      codes: [1009], serverArguments: ["--max-message-bytes", "1000"]),
            Violation(name: "1 MiB + 1 over the default limit", frames: [frame(Op.binary, Payload.binary((1 << 20) + 1))], codes: [1009]),
            // RFC 6455 §5.2: the 64-bit length's most significant bit MUST be 0.
            Violation(name: "64-bit length 2^63-1, header only", frames: [frame(Op.binary, [], length: UInt64(Int64.max))], codes: [1009, 1002]),
            Violation(name: "64-bit length 2^64-1, header only", frames: [frame(Op.binary, [], length: UInt64.max)], codes: [1002, 1009]),
            Violation(name: "text 64-bit length 2^63-1 inside a fragmented message",
                      frames: [frame(fin: false, Op.text, hi), frame(Op.continuation, [], length: UInt64(Int64.max))], codes: [1009, 1002]),
        ]
        for opcode in [UInt8(3), 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            cases.append(Violation(name: "reserved opcode 0x\(String(opcode, radix: 16))", frames: [frame(opcode, hi)], codes: [1002]))
        }
        return cases
    }()
}

/// Violations: the server sends a close frame with the right code, closes TCP, and keeps serving.
@Suite(.timeLimit(.minutes(1)))
struct ViolationTests {
    @Test(arguments: Violation.all)
    func violationClosesWithCode(_ violation: Violation) throws {
        let server = try ServerProcess.start(["--greeting", ""] + violation.serverArguments)
        defer { server.stop() }
        let client = try server.webSocket(timeout: 10)
        for frame in violation.frames {
            do { try client.send(frame) } catch ClientError.reset { break }  // the server may already have given up
        }
        Expect.serverCloses(client, codes: violation.codes)
        #expect(server.stderrLine(containing: ["ws-close", "open=0"]) != nil, "no ws-close line with open=0; stderr: \(server.stderr.text.suffix(500))")
        Expect.serverStillEchoes(server)
    }
}
