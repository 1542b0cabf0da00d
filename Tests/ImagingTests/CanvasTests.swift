import Imaging
import Testing

@Suite("Canvas")
struct CanvasTests {
    @Test("init fills, subscript reads and writes")
    func basics() {
        var c = Canvas(width: 3, height: 2, fill: RGBA(r: 1, g: 2, b: 3))
        #expect(c.pixels.count == 24 && c[2, 1] == RGBA(r: 1, g: 2, b: 3))
        c[1, 0] = .white
        #expect(c[1, 0] == .white && c.pixel(x: 3, y: 0) == nil && c.pixel(x: 0, y: 0) != nil)
        #expect(Canvas(width: -4, height: 2).width == 0)
    }

    @Test("fillRect blends and clips to the canvas")
    func fillRect() {
        var c = Canvas(width: 4, height: 4, fill: .black)
        c.fillRect(x: -2, y: 2, width: 4, height: 10, color: RGBA(r: 255, g: 0, b: 0, a: 128))
        #expect(c[1, 3].r == 128 && c[1, 3].a == 255)
        #expect(c[2, 3] == .black && c[0, 1] == .black)
    }

    @Test("composite alpha-blends with opacity and clips")
    func composite() {
        var c = Canvas(width: 4, height: 4, fill: .black)
        let w = Canvas(width: 3, height: 3, fill: .white)
        c.composite(w, at: 2, y: -1, opacity: 0.5)
        #expect(c[2, 0].r == 128 && c[3, 1].g == 128 && c[1, 0] == .black && c[2, 2] == .black)
        var clear = Canvas(width: 2, height: 2)
        clear.composite(Canvas(width: 2, height: 2, fill: RGBA(r: 10, g: 20, b: 30, a: 100)), at: 0, y: 0)
        #expect(clear[0, 0] == RGBA(r: 10, g: 20, b: 30, a: 100))
    }

    @Test("scaled variants produce the requested sizes and preserve flat colour")
    func scaling() {
        let c = Canvas(width: 200, height: 100, fill: RGBA(r: 10, g: 200, b: 30))
        let exact = c.scaled(width: 33, height: 77)
        #expect(exact.width == 33 && exact.height == 77 && exact[16, 40] == RGBA(r: 10, g: 200, b: 30))
        let fit = c.scaled(toFitWidth: 50, height: 50)
        #expect(fit.width == 50 && fit.height == 25)
        let fill = c.scaled(toFillWidth: 50, height: 50)
        #expect(fill.width == 50 && fill.height == 50 && fill[0, 0] == RGBA(r: 10, g: 200, b: 30))
        let up = Canvas(width: 2, height: 1, fill: .white).scaled(width: 400, height: 300)
        #expect(up.width == 400 && up[399, 299] == .white)
    }

    @Test("downscaling averages (box-like) rather than point-sampling")
    func downscaleAverages() {
        var c = Canvas(width: 64, height: 64, fill: .black)
        for y in 0..<64 { for x in stride(from: 0, to: 64, by: 2) { c[x, y] = .white } }
        let small = c.scaled(width: 4, height: 4)
        #expect(abs(Int(small[1, 1].r) - 128) < 12)
    }
}
