// window_attention_ref.h: Swin's shifted-window attention in double precision, written the way Hugging Face's
// modeling_swin (SwinLayer.forward, get_attn_mask, window_partition / window_reverse) and torchvision's
// shifted_window_attention spell it: materialise the rolled grid (torch.roll(x, -shift)), cut it into windows,
// build the relative position index and the region mask as whole matrices, attend per window, put the windows
// back and roll by +shift. The kernels (native/cpu/window_attention.inc, native/kernels/window_attention.cuh)
// do none of these copies: they map indices, so the two are written independently.
#pragma once
#include <cmath>
#include <vector>

// q, k, v: element (token t, column c) at [t * stride + c]; bias [(2w-1)^2][heads]; returns out
// [grid_h * grid_w][heads * head_dim]. logit_scale empty: scores scale q . k (V1); else Swin-V2's
// F.normalize(q) . F.normalize(k) * logit_scale[h].
inline std::vector<double> window_attention_ref(const std::vector<double>& q, const std::vector<double>& k,
                                                const std::vector<double>& v, long stride,
                                                const std::vector<double>& bias, int grid_h, int grid_w, int window,
                                                int shift, int heads, int head_dim, double scale,
                                                const std::vector<double>& logit_scale = {}) {
  const int H = grid_h, W = grid_w, w = window, N = w * w, C = heads * head_dim, T = H * W;
  // 1. the rolled grid: rolled[ys][xs] = token ((ys + shift) mod H, (xs + shift) mod W) (torch.roll by -shift)
  std::vector<int> rolled(T);
  for (int ys = 0; ys < H; ++ys)
    for (int xs = 0; xs < W; ++xs) rolled[ys * W + xs] = ((ys + shift) % H) * W + (xs + shift) % W;
  // 2. img_mask: region labels of the rolled grid from the three slices per axis
  std::vector<int> img_mask(T, 0);
  if (shift > 0) {
    const int hs[4] = {0, H - w, H - shift, H}, ws[4] = {0, W - w, W - shift, W};
    int cnt = 0;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b, ++cnt)
        for (int y = hs[a]; y < hs[a + 1]; ++y)
          for (int x = ws[b]; x < ws[b + 1]; ++x) img_mask[y * W + x] = cnt;
  }
  // 3. relative_position_index [N][N], as the modules build it from coords_flatten
  std::vector<int> rel_index(N * N);
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j) {
      const int dy = i / w - j / w + w - 1, dx = i % w - j % w + w - 1;
      rel_index[i * N + j] = dy * (2 * w - 1) + dx;
    }
  std::vector<double> out(size_t(T) * C, 0.0);
  // 4. per window of the rolled grid: partition, attend, reverse (the output of rolled position p goes to
  //    token rolled[p]: rolling back by +shift)
  for (int wy = 0; wy < H / w; ++wy)
    for (int wx = 0; wx < W / w; ++wx) {
      std::vector<int> tok(N), label(N);
      for (int i = 0; i < N; ++i) {
        const int p = (wy * w + i / w) * W + wx * w + i % w;
        tok[i] = rolled[p];
        label[i] = img_mask[p];
      }
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < N; ++i) {
          std::vector<double> s(N);
          double mx = -1e300;
          for (int j = 0; j < N; ++j) {
            double dot = 0, qq = 0, kk = 0;
            for (int d = 0; d < head_dim; ++d) {
              const double a = q[size_t(tok[i]) * stride + h * head_dim + d], b = k[size_t(tok[j]) * stride + h * head_dim + d];
              dot += a * b;
              qq += a * a;
              kk += b * b;
            }
            if (!logit_scale.empty())
              dot = dot / std::fmax(std::sqrt(qq), 1e-12) / std::fmax(std::sqrt(kk), 1e-12) * logit_scale[h] / scale;
            s[j] = dot * scale + bias[size_t(rel_index[i * N + j]) * heads + h] + (label[i] != label[j] ? -100.0 : 0.0);
            mx = std::fmax(mx, s[j]);
          }
          double sum = 0;
          for (int j = 0; j < N; ++j) sum += s[j] = std::exp(s[j] - mx);
          for (int d = 0; d < head_dim; ++d) {
            double acc = 0;
            for (int j = 0; j < N; ++j) acc += s[j] / sum * v[size_t(tok[j]) * stride + h * head_dim + d];
            out[size_t(tok[i]) * C + h * head_dim + d] = acc;
          }
        }
    }
  return out;
}
