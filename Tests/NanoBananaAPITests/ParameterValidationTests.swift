import Foundation
import Testing

@testable import NanoBananaAPI

@Suite("Parameter validation")
struct ParameterValidationTests {
    func validate(_ json: String) throws(ParameterError) -> NanoBanana2Parameters {
        try NanoBanana2Parameters.validated(fromJSON: Array(json.utf8))
    }

    @Test("only a prompt gives the defaults of the API page")
    func defaults() throws {
        let parameters = try validate(#"{"prompt":"a cat"}"#)
        #expect(parameters == NanoBanana2Parameters(prompt: "a cat"))
        #expect(parameters.seed == 420_875)
        #expect(parameters.aspectRatio == .square)
        #expect(parameters.outputFormat == .jpg)
        #expect(parameters.outputResolution == .oneK)
        #expect(parameters.thinkingLevel == .minimal)
        #expect(parameters.safetyTolerance == 4)
        #expect(parameters.responseModalities == .textAndImage)
        #expect(parameters.webSearch == false)
        #expect(parameters.imageURLs.isEmpty)
    }

    @Test("every field is read from its wire name")
    func allFields() throws {
        let parameters = try validate(
            #"{"prompt":"p","seed":7,"image_urls":["https://a.example/x.png"],"web_search":true,"aspect_ratio":"21:9","output_format":"png","thinking_level":"high","safety_tolerance":6,"output_resolution":"4K","response_modalities":"IMAGE"}"#
        )
        #expect(
            parameters
                == NanoBanana2Parameters(
                    prompt: "p", seed: 7, imageURLs: ["https://a.example/x.png"], webSearch: true,
                    aspectRatio: .landscape21x9,
                    outputFormat: .png, thinkingLevel: .high, safetyTolerance: 6, outputResolution: .fourK,
                    responseModalities: .image))
    }

    @Test("null means the default; an integral float is an integer")
    func lenientForms() throws {
        let parameters = try validate(#"{"prompt":"p","seed":null,"safety_tolerance":2.0}"#)
        #expect(parameters.seed == 420_875)
        #expect(parameters.safetyTolerance == 2)
    }

    @Test("errors name the field and the allowed values")
    func messages() {
        #expect(throws: ParameterError.notAllowed(field: "output_format", value: "gif", allowed: ["jpg", "png"])) {
            try validate(#"{"prompt":"p","output_format":"gif"}"#)
        }
        #expect(throws: ParameterError.missing(field: "prompt")) { try validate("{}") }
        #expect(throws: ParameterError.unknownField("negative_prompt")) {
            try validate(#"{"prompt":"p","negative_prompt":"x"}"#)
        }
        #expect(throws: ParameterError.outOfRange(field: "seed", value: "4294967296", range: "-2147483648…2147483647"))
        {
            try validate(#"{"prompt":"p","seed":4294967296}"#)
        }
        #expect(throws: ParameterError.tooLong(field: "prompt", limit: NanoBanana2Parameters.maxPromptLength)) {
            try validate(#"{"prompt":"\#(String(repeating: "x", count: 20_001))"}"#)
        }
        let message = ParameterError.notAllowed(field: "output_format", value: "gif", allowed: ["jpg", "png"])
            .description
        #expect(message == #"Invalid 'output_format': "gif" is not allowed. Allowed values: "jpg", "png"."#)
    }

    @Test("a prompt is measured in Unicode scalars, as JSON Schema counts: combining marks are not free")
    func promptBudget() throws {
        // One letter and two million combining acute accents: 1 character to a reader,
        // 4 MB to the upstream and to a renderer.
        let bomb = "a" + String(repeating: "\u{301}", count: 2_000_000)
        #expect(bomb.count == 1)
        #expect(throws: ParameterError.tooLong(field: "prompt", limit: 20_000)) {
            try NanoBanana2Parameters.validated(from: ["prompt": .string(bomb)])
        }
        let marks = "a" + String(repeating: "\u{301}", count: 20_000)
        #expect(throws: ParameterError.tooLong(field: "prompt", limit: 20_000)) {
            try NanoBanana2Parameters.validated(from: ["prompt": .string(marks)])
        }
        // 20,000 scalars of three-byte letters and accents fit.
        let accented = String(repeating: "漢字e\u{301}", count: 5_000)
        #expect(try NanoBanana2Parameters.validated(from: ["prompt": .string(accented)]).prompt == accented)
    }

    @Test("a prompt of white space is empty, scalar by scalar: a space with a combining mark is not")
    func blankPrompt() throws {
        #expect(throws: ParameterError.empty(field: "prompt")) {
            try NanoBanana2Parameters.validated(from: ["prompt": .string(" \t\u{3000}\r\n")])
        }
        #expect(try NanoBanana2Parameters.validated(from: ["prompt": .string(" \u{301}")]).prompt == " \u{301}")
    }

    @Test("the parameters round-trip through their JSON encoding")
    func roundTrip() throws {
        let parameters = NanoBanana2Parameters(prompt: "p", seed: -3, aspectRatio: .portrait1x8, outputFormat: .png)
        let data = try JSONEncoder().encode(parameters)
        #expect(try validate(String(decoding: data, as: UTF8.self)) == parameters)
    }
}

@Suite("Reference image sources")
struct ReferenceImageSourceTests {
    @Test("a base64 data: URL decodes to its bytes")
    func dataURL() throws {
        let source = try ReferenceImageSource(parsing: "data:image/png;base64,iVBORw0KGgo=")
        #expect(source == .inline(mediaType: "image/png", bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(
            try ReferenceImageSource(parsing: "data:image/jpg;base64,/9j/")
                == .inline(mediaType: "image/jpeg", bytes: [0xFF, 0xD8, 0xFF]))
    }

    @Test(
        "unusable references are refused",
        arguments: [
            "ftp://a.example/x.png", "not a url", "https://", "data:image/png,raw", "data:image/gif;base64,R0lG",
            "data:image/png;base64,", "data:image/png;base64", "file:///etc/passwd",
        ])
    func refused(string: String) {
        #expect(throws: ReferenceImageSource.Invalid.self) { try ReferenceImageSource(parsing: string) }
    }

    @Test("an http(s) URL is remote")
    func remote() throws {
        #expect(
            try ReferenceImageSource(parsing: "https://img.example.com/a.png")
                == .remote(URL(string: "https://img.example.com/a.png")!))
    }
}

@Suite("Dimension table")
struct ImageDimensionsTests {
    @Test(
        "sizes follow Google's table at every resolution",
        arguments: [
            (AspectRatio.square, OutputResolution.oneK, 1024, 1024),
            (.square, .px512, 512, 512),
            (.square, .fourK, 4096, 4096),
            (.landscape16x9, .oneK, 1376, 768),
            (.portrait9x16, .twoK, 1536, 2752),
            (.landscape21x9, .px512, 792, 336),
            (.landscape3x2, .oneK, 1264, 848),
            (.portrait4x5, .oneK, 928, 1152),
            (.landscape4x1, .px512, 1024, 256),
            (.portrait1x8, .oneK, 384, 3072),
            (.landscape8x1, .fourK, 12288, 1536),
        ])
    func table(ratio: AspectRatio, resolution: OutputResolution, width: Int, height: Int) {
        #expect(
            ImageDimensions.forRatio(ratio, resolution: resolution) == ImageDimensions(width: width, height: height))
    }

    @Test("auto resolves to the nearest ratio of a reference")
    func nearest() {
        #expect(ImageDimensions.nearestRatio(width: 1920, height: 1080) == .landscape16x9)
        #expect(ImageDimensions.nearestRatio(width: 100, height: 100) == .square)
        #expect(ImageDimensions.nearestRatio(width: 300, height: 2400) == .portrait1x8)
        #expect(ImageDimensions.nearestRatio(width: 0, height: 10) == .square)
    }

    @Test("all 15 aspect ratios are accepted")
    func fifteen() {
        #expect(AspectRatio.allCases.count == 15)
    }
}
