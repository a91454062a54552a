#!/usr/bin/env python3
"""Diagnostic (issue 20): can a 10-d code trained only to keep tf-idf neighbours together beat
LSA-50 on Reuters? Reads the counts that `bench_reuters_ae --dump-counts PREFIX` writes, fits
LSA (numpy SVD of L2-normalised tf-idf), then trains a 10-d encoder (linear, initialised from
LSA-10, or one tanh hidden layer) with an InfoNCE loss whose positives are each training
document's K nearest training documents by tf-idf cosine (in-batch negatives, Adam 1e-3, batch
256). Prints test-test P@1/10/100 (cosine) every 5 epochs, the protocol of bench/RESULTS-text.md.
Not a service feature: it bounds what neighbour distillation could add to the auto-encoder.

  cd build && bench/bench_reuters_ae --no-lsa --epochs 0 --pretrain-epochs 0 --dump-counts /tmp/r
  /usr/bin/python3 bench/reuters_neighbours.py /tmp/r [--k 5] [--tau 0.1] [--hidden 0] [--epochs 30]
"""
import argparse

import numpy as np


def load(prefix, name, vocab=2000):
    triplets = np.loadtxt(f'{prefix}-{name}.txt')
    labels = np.loadtxt(f'{prefix}-{name}-labels.txt').astype(int)
    x = np.zeros((len(labels), vocab), np.float32)
    x[triplets[:, 0].astype(int) - 1, triplets[:, 1].astype(int) - 1] = triplets[:, 2]
    return x, labels


def unit_rows(z):
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def precision_at(z, y, ks=(1, 10, 100)):
    zn = unit_rows(z)
    s = zn @ zn.T
    np.fill_diagonal(s, -np.inf)
    top = np.argsort(-s, axis=1)[:, :max(ks)]
    hit = y[top] == y[:, None]
    return [round(float(hit[:, :k].mean()), 4) for k in ks]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('prefix')
    ap.add_argument('--k', type=int, default=5)
    ap.add_argument('--tau', type=float, default=0.1)
    ap.add_argument('--hidden', type=int, default=0)
    ap.add_argument('--epochs', type=int, default=30)
    a = ap.parse_args()
    xtr, ytr = load(a.prefix, 'train')
    xte, yte = load(a.prefix, 'test')
    idf = np.log(len(xtr) / np.maximum((xtr > 0).sum(0), 1))
    ttr, tte = unit_rows(xtr * idf), unit_rows(xte * idf)
    print('tf-idf', precision_at(tte, yte))
    _, _, vt = np.linalg.svd(ttr, full_matrices=False)
    for k in (10, 50):
        print(f'LSA-{k}', precision_at(tte @ vt[:k].T, yte))
    s = ttr @ ttr.T
    np.fill_diagonal(s, -np.inf)
    nbr = np.argsort(-s, axis=1)[:, :a.k]
    print('teacher: neighbours sharing the topic (train)', (ytr[nbr] == ytr[:, None]).mean())
    rng = np.random.default_rng(1)
    if a.hidden:
        params = [rng.normal(0, 2000**-0.5, (2000, a.hidden)).astype(np.float32),
                  np.zeros(a.hidden, np.float32),
                  rng.normal(0, a.hidden**-0.5, (a.hidden, 10)).astype(np.float32)]
    else:
        params = [vt[:10].T.copy().astype(np.float32)]

    def forward(x):  # z[n, 10], hidden activations (or None)
        if a.hidden:
            h = np.tanh(x @ params[0] + params[1])
            return h @ params[2], h
        return x @ params[0], None

    def backward(x, h, dz):  # gradients of params from dL/dz
        if a.hidden:
            dh = dz @ params[2].T * (1 - h * h)
            return [x.T @ dh, dh.sum(0), h.T @ dz]
        return [x.T @ dz]

    def normalise(z):  # z / |z| and its backward
        n = np.linalg.norm(z, axis=1, keepdims=True) + 1e-8
        u = z / n
        return u, lambda du: (du - u * (u * du).sum(1, keepdims=True)) / n

    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    batch, step = 256, 0
    for epoch in range(a.epochs):
        order = rng.permutation(len(ttr))
        total = 0.0
        for b0 in range(0, len(order) - batch + 1, batch):
            ia = order[b0:b0 + batch]
            ip = nbr[ia, rng.integers(0, a.k, batch)]
            za, ha = forward(ttr[ia])
            zp, hp = forward(ttr[ip])
            ua, back_a = normalise(za)
            up, back_p = normalise(zp)
            logits = ua @ up.T / a.tau
            logits -= logits.max(1, keepdims=True)
            soft = np.exp(logits)
            soft /= soft.sum(1, keepdims=True)
            total += -np.log(np.diag(soft) + 1e-12).mean()
            g = (soft - np.eye(batch)) / batch  # dL/dlogits of the mean cross-entropy
            grads_a = backward(ttr[ia], ha, back_a(g @ up / a.tau))
            grads_p = backward(ttr[ip], hp, back_p(g.T @ ua / a.tau))
            step += 1
            for i, p in enumerate(params):
                grad = grads_a[i] + grads_p[i]
                m[i] = 0.9 * m[i] + 0.1 * grad
                v[i] = 0.999 * v[i] + 0.001 * grad * grad
                p -= 1e-3 * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
        if epoch == 0 or epoch % 5 == 4:
            print(f'epoch {epoch + 1} loss {total:.3f} test-test P@1/10/100',
                  precision_at(forward(tte)[0], yte), flush=True)


if __name__ == '__main__':
    main()
