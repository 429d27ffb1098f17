// A hand-drawn SVG sparkline: a line and a light area under it, scaled to the largest value.

export function Sparkline({ values, label }: { values: readonly number[]; label: string }) {
  const width = 120;
  const height = 32;
  if (values.length < 2) {
    return <svg class="spark" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label}: not enough data yet`} />;
  }
  const max = Math.max(1, ...values);
  const step = width / (values.length - 1);
  const points = values.map((value, index) => `${(index * step).toFixed(1)},${(height - 2 - (value / max) * (height - 4)).toFixed(1)}`);
  const line = `M${points.join(' L')}`;
  const area = `${line} L${width},${height} L0,${height} Z`;
  return (
    <svg class="spark" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={`${label}, last ${values.length} seconds, peak ${max}`}>
      <path class="spark-area" d={area} />
      <path class="spark-line" d={line} />
    </svg>
  );
}
