import XCTest
import NablaCore
import _NablaTestSupport

/// Cholesky, SPD solves and least squares against hand-derived solutions.
final class LinearAlgebraTests: XCTestCase {

    func testCholeskyHandDerived() throws {
        // A = [[4, 2], [2, 3]]: L = [[2, 0], [1, √2]] since 2·2 = 4, 1·2 = 2, 1 + 2 = 3.
        let L = try LinearAlgebra.cholesky(Tensor([[4, 2], [2, 3]] as [[Double]]))
        XCTAssertEqual(L.shape, [2, 2])
        XCTAssertEqual(L.dtype, .float64)
        let e = [2, 0, 1, 2.0.squareRoot()]
        for (a, b) in zip(L.doubles, e) { XCTAssertEqual(a, b, accuracy: 1e-14) }
    }

    func testCholeskyReconstructs() throws {
        // A = M·Mᵀ + 4I is SPD; L must be lower triangular with L·Lᵀ = A.
        let m = Tensor([[1, 2, 0, -1], [0.5, -1, 3, 2], [2, 0, 1, 1], [-1, 1, 1, 0.5]] as [[Double]])
        let a = m.matmul(m.T) + Tensor.eye(4, dtype: .float64) * 4
        for input in [a, a.to(.float32)] {
            let L = try LinearAlgebra.cholesky(input)
            for i in 0..<4 { for j in (i + 1)..<4 { XCTAssertEqual(L[i, j], 0) } }
            for i in 0..<4 { XCTAssertGreaterThan(L[i, i], 0) }
            XCTAssertTrue(allClose(L.matmul(L.T), a, rtol: input.dtype == .float64 ? 1e-12 : 1e-6, atol: 1e-12))
        }
    }

    func testCholeskyRejectsNonSPD() {
        // Eigenvalues 3 and −1: symmetric but indefinite.
        XCTAssertThrowsError(try LinearAlgebra.cholesky(Tensor([[1, 2], [2, 1]] as [[Double]]))) { err in
            XCTAssertTrue("\(err)".contains("not positive definite"), "\(err)")
        }
        XCTAssertThrowsError(try LinearAlgebra.cholesky(Tensor([[-1, 0], [0, 1]] as [[Double]])))
        // Singular (positive semi-definite).
        XCTAssertThrowsError(try LinearAlgebra.cholesky(Tensor([[1, 1], [1, 1]] as [[Double]])))
        XCTAssertThrowsError(try LinearAlgebra.solveSPD(Tensor([[1, 2], [2, 1]] as [[Double]]), Tensor([1, 1] as [Double])))
    }

    func testSolveSPDHandDerived() throws {
        // [[4, 2], [2, 3]]⁻¹ = 1/8·[[3, −2], [−2, 4]], so for b = [2, 1]: x = [4/8, 0/8].
        let a = Tensor([[4, 2], [2, 3]] as [[Double]])
        let x = try LinearAlgebra.solveSPD(a, Tensor([2, 1] as [Double]))
        XCTAssertEqual(x.shape, [2])
        XCTAssertEqual(x.doubles[0], 0.5, accuracy: 1e-14)
        XCTAssertEqual(x.doubles[1], 0, accuracy: 1e-14)
        // Several right-hand sides: b = I gives the inverse.
        let inv = try LinearAlgebra.solveSPD(a, Tensor.eye(2, dtype: .float64))
        XCTAssertEqual(inv.shape, [2, 2])
        let expectedInverse = Tensor([3.0 / 8, -2.0 / 8, -2.0 / 8, 4.0 / 8], shape: [2, 2])
        XCTAssertTrue(allClose(inv, expectedInverse, rtol: 1e-13, atol: 1e-15))
    }

    func testSolveSPDResidual() throws {
        let m = Tensor([[2, 1, 0], [1, 3, 1], [0, 1, 4]] as [[Double]])
        let a = m.matmul(m.T)
        let b = Tensor([[1, -2], [0.5, 3], [4, 1]] as [[Double]])
        let x = try LinearAlgebra.solveSPD(a, b)
        XCTAssertEqual(x.shape, [3, 2])
        XCTAssertTrue(allClose(a.matmul(x), b, rtol: 1e-12, atol: 1e-12))
    }

    func testLeastSquaresExactFit() throws {
        // y = 1 + 2t on t = 0…3 with design [1, t]: coefficients [1, 2].
        let t = [0.0, 1, 2, 3]
        let a = Tensor(t.flatMap { [1, $0] }, shape: [4, 2])
        let x = try LinearAlgebra.leastSquares(a, Tensor(t.map { 1 + 2 * $0 }))
        XCTAssertEqual(x.shape, [2])
        XCTAssertEqual(x.doubles[0], 1, accuracy: 1e-12)
        XCTAssertEqual(x.doubles[1], 2, accuracy: 1e-12)
    }

    func testLeastSquaresOverdetermined() throws {
        // Points (0, 1), (1, 2), (2, 2): normal equations [[3, 3], [3, 5]]·β = [5, 6]
        // give β = 1/6·[[5, −3], [−3, 3]]·[5, 6] = [7/6, 1/2].
        let a = Tensor([[1, 0], [1, 1], [1, 2]] as [[Double]])
        let x = try LinearAlgebra.leastSquares(a, Tensor([1, 2, 2] as [Double]))
        XCTAssertEqual(x.doubles[0], 7.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(x.doubles[1], 0.5, accuracy: 1e-12)
        // Matrix right-hand side: each column solved independently.
        let b = Tensor([[1, 3], [2, 5], [2, 7]] as [[Double]])   // second column: 3 + 2t exactly
        let xb = try LinearAlgebra.leastSquares(a, b)
        XCTAssertEqual(xb.shape, [2, 2])
        XCTAssertTrue(allClose(xb, Tensor([[7.0 / 6.0, 3], [0.5, 2]]), rtol: 1e-12, atol: 1e-12))
        // float32 input is solved in float64 internally.
        let xf = try LinearAlgebra.leastSquares(a.to(.float32), Tensor([1, 2, 2] as [Float]))
        XCTAssertEqual(xf.doubles[0], 7.0 / 6.0, accuracy: 1e-6)
    }

    func testLeastSquaresRankDeficient() {
        // The second column is twice the first.
        let a = Tensor([[1, 2], [2, 4], [3, 6]] as [[Double]])
        XCTAssertThrowsError(try LinearAlgebra.leastSquares(a, Tensor([1, 2, 3] as [Double]))) { err in
            XCTAssertTrue("\(err)".contains("rank deficient"), "\(err)")
        }
        XCTAssertThrowsError(try LinearAlgebra.leastSquares(Tensor.zeros([3, 2], dtype: .float64), Tensor([1, 2, 3] as [Double])))
    }

    func testMatmulValues() {
        let a = Tensor([[1, 2], [3, 4]] as [[Double]]), b = Tensor([[5, 6], [7, 8]] as [[Double]])
        XCTAssertEqual(a.matmul(b).doubles, [19, 22, 43, 50])
        XCTAssertEqual(a.to(.float32).matmul(b.to(.float32)).floats, [19, 22, 43, 50])
        XCTAssertEqual(a.matmul(Tensor([1, 1] as [Double])).doubles, [3, 7])
        XCTAssertEqual(Tensor([1, 1] as [Double]).matmul(a).doubles, [4, 6])
        XCTAssertEqual(Tensor([1, 2, 3] as [Double]).dot(Tensor([4, 5, 6] as [Double])).item(), 32)
        XCTAssertEqual(Tensor([1, 2] as [Double]).outer(Tensor([3, 4, 5] as [Double])).doubles, [3, 4, 5, 6, 8, 10])
        let batch = Tensor.stack([a, b])                 // [2, 2, 2]
        let r = batch.matmul(Tensor.eye(2, dtype: .float64) * 2)
        XCTAssertEqual(r.doubles, [2, 4, 6, 8, 10, 12, 14, 16])
        let l = a.matmul(Tensor.stack([Tensor.eye(2, dtype: .float64), b]))
        XCTAssertEqual(l.shape, [2, 2, 2])
        XCTAssertEqual(l.doubles, [1, 2, 3, 4, 19, 22, 43, 50])
        // A larger float32 product against a float64 reference (exercises the GEMM kernel).
        let g = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([37, 53], dtype: .float64, generator: g)
        let y = Tensor.randomNormal([53, 29], dtype: .float64, generator: g)
        XCTAssertTrue(allClose(x.to(.float32).matmul(y.to(.float32)).to(.float64), x.matmul(y), rtol: 1e-4, atol: 1e-4))
        var naive = [Double](repeating: 0, count: 37 * 29)
        let xd = x.doubles, yd = y.doubles
        for i in 0..<37 { for j in 0..<29 { for k in 0..<53 { naive[i * 29 + j] += xd[i * 53 + k] * yd[k * 29 + j] } } }
        XCTAssertTrue(allClose(x.matmul(y), Tensor(naive, shape: [37, 29]), rtol: 1e-12, atol: 1e-12))
    }
}
