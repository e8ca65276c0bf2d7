// Draws one dashboard in the browser from its Grafana JSON and the query
// results the preview fetched: each panel at its grid position, as its type
// (time series with uPlot, stat, gauge, bar gauge, table, heatmap, bar chart),
// with its title, unit, thresholds, legend and value mappings. A panel whose
// queries return nothing is drawn as "No data" and reported. Grafana's grid:
// 24 columns, 30 px rows, 8 px margins.
/* global uPlot */
(() => {
  const data = JSON.parse(document.getElementById("preview-data").textContent);
  const columns = 24;
  const rowHeight = 30;
  const margin = 8;
  const colWidth = data.width / columns;
  const palette = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0", "#508642", "#cca300"];
  const namedColors = {
    green: "#73bf69",
    red: "#f2495c",
    orange: "#ff9830",
    yellow: "#fade2a",
    blue: "#5794f2",
    purple: "#b877d9",
    "dark-orange": "#fa6400",
    "dark-red": "#c4162a",
    "dark-green": "#37872d",
    transparent: "transparent",
    text: "#ccccdc",
  };
  const report = { noData: [], errors: [], drawn: 0, series: {} };

  const color = (c) => namedColors[c] ?? c ?? namedColors.green;

  // ---------------------------------------------------------------- units
  const trim = (n, decimals) => {
    const abs = Math.abs(n);
    const d = decimals ?? (abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
    return Number(n.toFixed(d)).toLocaleString("en-US", { maximumFractionDigits: d });
  };
  const scaled = (n, base, suffixes, decimals) => {
    let i = 0;
    let v = n;
    while (Math.abs(v) >= base && i < suffixes.length - 1) {
      v /= base;
      i++;
    }
    return `${trim(v, decimals)}${suffixes[i]}`;
  };
  const short = (n, decimals) => scaled(n, 1000, ["", " K", " M", " B", " T"], decimals);
  const duration = (seconds, decimals) => {
    const a = Math.abs(seconds);
    if (a < 1) return `${trim(seconds * 1000, decimals)} ms`;
    if (a < 60) return `${trim(seconds, decimals)} s`;
    if (a < 3600) return `${trim(seconds / 60, decimals)} min`;
    if (a < 86400) return `${trim(seconds / 3600, decimals)} hour`;
    return `${trim(seconds / 86400, decimals)} day`;
  };
  function format(value, unit, decimals) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
    if (typeof unit === "string" && unit.startsWith("suffix:")) return `${short(value, decimals)}${unit.slice(7)}`;
    switch (unit) {
      case "percent":
        return `${trim(value, decimals)}%`;
      case "percentunit":
        return `${trim(value * 100, decimals)}%`;
      case "bytes":
        return scaled(value, 1024, [" B", " KiB", " MiB", " GiB", " TiB"], decimals);
      case "decbytes":
        return scaled(value, 1000, [" B", " kB", " MB", " GB", " TB"], decimals);
      case "s":
        return duration(value, decimals);
      case "ms":
        return duration(value / 1000, decimals);
      case "h":
        return `${trim(value, decimals)} hour`;
      case "reqps":
        return `${short(value, decimals)} req/s`;
      case "ops":
        return `${short(value, decimals)} ops/s`;
      case "watt":
        return `${short(value, decimals)}W`;
      case "celsius":
        return `${trim(value, decimals)}°C`;
      case "none":
        return trim(value, decimals);
      default:
        return short(value, decimals);
    }
  }

  // ---------------------------------------------------------------- field config
  const defaultsOf = (panel) => panel.fieldConfig?.defaults ?? {};
  const steps = (panel) => (defaultsOf(panel).thresholds?.steps ?? []).map((s) => ({ value: s.value ?? Number.NEGATIVE_INFINITY, color: color(s.color) }));
  function thresholdColor(panel, value) {
    let c = steps(panel)[0]?.color ?? namedColors.green;
    for (const s of steps(panel)) if (value >= s.value) c = s.color;
    return c;
  }
  /** Value mappings: `value` (exact) and `range`; the text and color they give, if any. */
  function mapped(panel, value) {
    for (const m of defaultsOf(panel).mappings ?? []) {
      if (m.type === "value" && m.options?.[String(value)]) return m.options[String(value)];
      if (m.type === "range") {
        const { from, to, result } = m.options ?? {};
        if ((from === null || from === undefined || value >= from) && (to === null || to === undefined || value <= to)) return result;
      }
    }
    return undefined;
  }
  const display = (panel, value) => {
    const m = mapped(panel, value);
    return { text: m?.text ?? format(value, defaultsOf(panel).unit, defaultsOf(panel).decimals), color: m?.color ? color(m.color) : thresholdColor(panel, value) };
  };

  /** A legend from a legendFormat: `{{node}} {{gpu}}`; without one, the series' labels. */
  function legend(target, labels) {
    if (target.legendFormat && target.legendFormat !== "__auto") {
      return target.legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => labels[name] ?? "").trim();
    }
    const inner = Object.entries(labels)
      .filter(([k]) => k !== "__name__")
      .map(([k, v]) => `${k}="${v}"`)
      .join(", ");
    return `${labels.__name__ ?? ""}{${inner}}`;
  }
  const lastValue = (series) => {
    for (let i = series.points.length - 1; i >= 0; i--) if (!Number.isNaN(series.points[i][1])) return series.points[i][1];
    return Number.NaN;
  };
  const allSeries = (item) => item.results.flatMap((r) => r.series.map((s) => ({ ...s, target: r, name: legend(r, s.labels) })));

  // ---------------------------------------------------------------- panel types
  function timeseries(body, panel, item) {
    const series = allSeries(item);
    const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columnsOf = series.map((s) => {
      const col = new Array(times.length).fill(null);
      for (const [t, v] of s.points) col[index.get(t)] = Number.isFinite(v) ? v : null;
      return col;
    });
    const unit = defaultsOf(panel).unit;
    const fill = defaultsOf(panel).custom?.fillOpacity ?? 0;
    const thresholdMode = defaultsOf(panel).custom?.thresholdsStyle?.mode ?? "off";
    const hex = (c, alpha) =>
      `${c}${Math.round(alpha * 255)
        .toString(16)
        .padStart(2, "0")}`;
    const legendBox = document.createElement("div");
    legendBox.className = "legend";
    const height = body.clientHeight - Math.min(64, 18 * Math.ceil(series.length / 3)) - 4;
    const opts = {
      width: body.clientWidth,
      height: Math.max(60, height),
      legend: { show: false },
      cursor: { show: false },
      scales: { y: { range: (_u, min, max) => [defaultsOf(panel).min ?? Math.min(0, min), defaultsOf(panel).max ?? (max > min ? max : min + 1)] } },
      axes: [
        { stroke: "#9fa7b3", grid: { stroke: "#2c3235" }, ticks: { stroke: "#2c3235" }, font: "11px sans-serif" },
        { stroke: "#9fa7b3", grid: { stroke: "#2c3235" }, ticks: { stroke: "#2c3235" }, font: "11px sans-serif", size: 70, values: (_u, vals) => vals.map((v) => format(v, unit)) },
      ],
      series: [
        {},
        ...series.map((s, i) => ({ label: s.name, stroke: palette[i % palette.length], width: 1.5, fill: fill > 0 ? hex(palette[i % palette.length], fill / 100) : undefined })),
      ],
      hooks: {
        draw: [
          (u) => {
            if (thresholdMode === "off") return;
            const ctx = u.ctx;
            for (const s of steps(panel).filter((x) => Number.isFinite(x.value))) {
              const y = u.valToPos(s.value, "y", true);
              ctx.save();
              ctx.strokeStyle = s.color;
              ctx.setLineDash([6, 4]);
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              ctx.restore();
            }
          },
        ],
      },
    };
    new uPlot(opts, [times, ...columnsOf], body);
    series.forEach((s, i) => {
      const entry = document.createElement("span");
      entry.innerHTML = `<i style="background:${palette[i % palette.length]}"></i>`;
      entry.append(s.name);
      legendBox.append(entry);
    });
    body.append(legendBox);
  }

  function stat(body, panel, item) {
    const series = allSeries(item);
    body.classList.add("stats");
    for (const s of series) {
      const d = display(panel, lastValue(s));
      const box = document.createElement("div");
      box.className = "stat";
      box.innerHTML = `<div class="stat-value" style="color:${d.color}"></div><div class="stat-name"></div>`;
      box.firstChild.textContent = d.text;
      box.lastChild.textContent = series.length > 1 ? s.name : "";
      body.append(box);
    }
  }

  function gauge(body, panel, item) {
    const series = allSeries(item);
    const min = defaultsOf(panel).min ?? 0;
    const max = defaultsOf(panel).max ?? 100;
    body.classList.add("stats");
    const size = Math.max(50, Math.min(body.clientHeight - 20, (body.clientWidth / Math.min(series.length, 6)) * 0.9));
    const arc = (from, to, r) => {
      const a0 = Math.PI * (0.75 + 1.5 * from);
      const a1 = Math.PI * (0.75 + 1.5 * to);
      const p = (a) => `${50 + r * Math.cos(a)} ${50 + r * Math.sin(a)}`;
      return `M ${p(a0)} A ${r} ${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ${p(a1)}`;
    };
    const frac = (v) => Math.max(0, Math.min(1, (v - min) / (max - min)));
    for (const s of series.slice(0, 24)) {
      const v = lastValue(s);
      const d = display(panel, v);
      const bands = steps(panel)
        .map((st, i, all) => ({ from: frac(Math.max(min, st.value)), to: frac(all[i + 1]?.value ?? max), color: st.color }))
        .map((b) => `<path d="${arc(b.from, b.to, 46)}" stroke="${b.color}" stroke-width="3" fill="none"/>`)
        .join("");
      const box = document.createElement("div");
      box.className = "gauge";
      box.innerHTML =
        `<svg viewBox="0 0 100 100" width="${size}" height="${size}">${bands}` +
        `<path d="${arc(0, 1, 38)}" stroke="#2c3235" stroke-width="10" fill="none"/>` +
        `<path d="${arc(0, Number.isFinite(v) ? frac(v) : 0, 38)}" stroke="${d.color}" stroke-width="10" fill="none"/>` +
        `<text x="50" y="56" text-anchor="middle" fill="${d.color}" font-size="14"></text></svg><div class="stat-name"></div>`;
      box.querySelector("text").textContent = d.text;
      box.querySelector(".stat-name").textContent = series.length > 1 ? s.name : "";
      body.append(box);
    }
  }

  function bargauge(body, panel, item) {
    const max = defaultsOf(panel).max ?? Math.max(...allSeries(item).map(lastValue), 1);
    body.classList.add("bars");
    for (const s of allSeries(item)) {
      const v = lastValue(s);
      const d = display(panel, v);
      const row = document.createElement("div");
      row.className = "bar-row";
      row.innerHTML = `<span class="bar-name"></span><span class="bar"><i style="width:${Math.max(0, Math.min(100, (100 * v) / max))}%;background:${d.color}"></i></span><span class="bar-value"></span>`;
      row.querySelector(".bar-name").textContent = s.name;
      row.querySelector(".bar-value").textContent = d.text;
      body.append(row);
    }
  }

  /** Grafana's table: one row per label set, label columns, then one value column per query (`Value #A`, or `Value` alone). */
  function tableRows(panel, item) {
    const rows = new Map();
    const labelNames = new Set();
    const valueNames = [];
    const many = item.results.length > 1;
    for (const r of item.results) {
      const valueName = many ? `Value #${r.refId}` : "Value";
      valueNames.push(valueName);
      for (const s of r.series) {
        const labels = Object.fromEntries(Object.entries(s.labels).filter(([k]) => k !== "__name__"));
        for (const k of Object.keys(labels)) labelNames.add(k);
        const key = JSON.stringify(Object.entries(labels).sort());
        const row = rows.get(key) ?? { ...labels };
        row[valueName] = lastValue(s);
        rows.set(key, row);
      }
    }
    let header = [...[...labelNames].sort(), ...valueNames];
    let body = [...rows.values()];
    for (const t of panel.transformations ?? []) {
      if (t.id === "organize") {
        const exclude = t.options?.excludeByName ?? {};
        const rename = t.options?.renameByName ?? {};
        header = header.filter((h) => !exclude[h]);
        body = body.map((r) => Object.fromEntries(header.map((h) => [rename[h] ?? h, r[h]])));
        header = header.map((h) => rename[h] ?? h);
      } else if (t.id === "groupingToMatrix") {
        const { columnField, rowField, valueField } = t.options ?? {};
        const cols = [...new Set(body.map((r) => r[columnField]))].sort();
        const byRow = new Map();
        for (const r of body) {
          const out = byRow.get(r[rowField]) ?? { [`${rowField}\\${columnField}`]: r[rowField] };
          out[r[columnField]] = r[valueField];
          byRow.set(r[rowField], out);
        }
        header = [`${rowField}\\${columnField}`, ...cols];
        body = [...byRow.values()];
      }
    }
    return { header, body: body.sort((a, b) => JSON.stringify(Object.values(a)).localeCompare(JSON.stringify(Object.values(b)))) };
  }

  /** The panel as one field sees it: overrides matched by the field's name replace unit, thresholds, decimals or mappings. */
  function forField(panel, name) {
    const defaults = { ...defaultsOf(panel) };
    for (const o of panel.fieldConfig?.overrides ?? []) {
      if (o.matcher?.id !== "byName" || o.matcher.options !== name) continue;
      for (const prop of o.properties ?? []) {
        if (["unit", "thresholds", "decimals", "mappings", "min", "max"].includes(prop.id)) defaults[prop.id] = prop.value;
      }
    }
    return { ...panel, fieldConfig: { ...panel.fieldConfig, defaults } };
  }

  function table(body, panel, item) {
    const { header, body: rows } = tableRows(panel, item);
    const el = document.createElement("table");
    const head = el.createTHead().insertRow();
    for (const h of header) head.insertCell().textContent = h;
    const tbody = el.createTBody();
    for (const r of rows.slice(0, 200)) {
      const tr = tbody.insertRow();
      for (const h of header) {
        const td = tr.insertCell();
        const v = r[h];
        if (typeof v === "number") {
          const field = forField(panel, h);
          const d = display(field, v);
          td.textContent = d.text;
          td.className = "num";
          if (steps(field).length > 1) td.style.color = d.color;
        } else td.textContent = v ?? "";
      }
    }
    body.append(el);
  }

  /** Bucketed series (`le`) over time as cells; the color is the bucket's value. */
  function heatmap(body, panel, item) {
    const sorted = allSeries(item)
      .map((s) => ({ ...s, le: /^\+?Inf$/.test(s.labels.le ?? "") ? Number.POSITIVE_INFINITY : Number(s.labels.le ?? s.name) }))
      .sort((a, b) => a.le - b.le);
    // Prometheus buckets are cumulative; a target of format "heatmap" is drawn as each bucket's own share, as Grafana does.
    const series = sorted.map((s, i) => {
      if (s.target.format !== "heatmap" || i === 0) return s;
      const below = new Map(sorted[i - 1].points.map((p) => [p[0], p[1]]));
      return { ...s, points: s.points.map(([t, v]) => [t, v - (below.get(t) ?? 0)]) };
    });
    const canvas = document.createElement("canvas");
    canvas.width = body.clientWidth;
    canvas.height = body.clientHeight - 20;
    body.append(canvas);
    const ctx = canvas.getContext("2d");
    const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const max = Math.max(...series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite), 1e-9);
    const left = 70;
    const w = (canvas.width - left) / Math.max(times.length, 1);
    const h = canvas.height / Math.max(series.length, 1);
    ctx.fillStyle = "#9fa7b3";
    ctx.font = "10px sans-serif";
    series.forEach((s, row) => {
      const y = canvas.height - (row + 1) * h;
      if (series.length <= 16 || row % Math.ceil(series.length / 16) === 0) ctx.fillText(format(s.le, panel.options?.yAxis?.unit ?? "short"), 2, y + h / 2 + 3);
      const at = new Map(s.points.map((p) => [p[0], p[1]]));
      times.forEach((t, col) => {
        const v = at.get(t);
        if (!Number.isFinite(v) || v <= 0) return;
        ctx.fillStyle = `rgba(255, 120, 10, ${0.1 + 0.9 * Math.sqrt(v / max)})`;
        ctx.fillRect(left + col * w, y, Math.max(1, w - 1), Math.max(1, h - 1));
      });
      ctx.fillStyle = "#9fa7b3";
    });
  }

  /** One bar per series (its last value), as the `reduce` transformation makes them. */
  function barchart(body, panel, item) {
    const bars = allSeries(item).map((s) => ({ name: s.name, value: lastValue(s) }));
    const max = Math.max(...bars.map((b) => b.value).filter(Number.isFinite), 1e-9);
    body.classList.add("columns");
    bars.forEach((b, i) => {
      const col = document.createElement("div");
      col.className = "column";
      col.innerHTML = `<span class="column-value"></span><i style="height:${(85 * b.value) / max}%;background:${palette[i % palette.length]}"></i><span class="column-name"></span>`;
      col.querySelector(".column-value").textContent = format(b.value, defaultsOf(panel).unit, defaultsOf(panel).decimals);
      col.querySelector(".column-name").textContent = b.name;
      body.append(col);
    });
  }

  const draw = { timeseries, stat, gauge, bargauge, table, heatmap, barchart };

  // ---------------------------------------------------------------- layout
  const grid = document.getElementById("grid");
  let bottom = 0;
  for (const item of data.panels) {
    const panel = item.panel;
    const g = panel.gridPos ?? { x: 0, y: 0, w: 12, h: 8 };
    bottom = Math.max(bottom, g.y + g.h);
    const box = document.createElement("section");
    box.className = panel.type === "row" ? "row" : "panel";
    box.style.left = `${g.x * colWidth}px`;
    box.style.top = `${g.y * (rowHeight + margin)}px`;
    box.style.width = `${g.w * colWidth - margin}px`;
    box.style.height = `${g.h * (rowHeight + margin) - margin}px`;
    box.dataset.title = panel.title ?? "";
    box.dataset.type = panel.type;
    grid.append(box);
    const title = document.createElement("h2");
    title.textContent = panel.title ?? "";
    box.append(title);
    if (panel.type === "row") continue;
    const links = (panel.links ?? []).filter((l) => /runbook/i.test(l.title ?? ""));
    if (links.length > 0) {
      const a = document.createElement("span");
      a.className = "links";
      a.textContent = links.map((l) => l.title).join(" · ");
      box.append(a);
    }
    const body = document.createElement("div");
    body.className = "body";
    box.append(body);
    report.series[panel.title] = item.results.reduce((n, r) => n + r.series.length, 0);
    const errors = item.results.filter((r) => r.error);
    const empty = item.results.every((r) => r.series.length === 0);
    if (errors.length > 0) report.errors.push({ title: panel.title, errors: errors.map((r) => `${r.refId}: ${r.error}`) });
    if (empty && errors.length > 0) {
      // A failed query is not an empty result: say what failed.
      box.classList.add("no-data");
      body.textContent = `query failed: ${errors.map((r) => r.error).join("; ")}`;
      continue;
    }
    if (empty) {
      // Grafana shows the panel's "no value" text instead of "No data" when it has one: none is the good state there.
      const noValue = defaultsOf(panel).noValue;
      box.classList.add("no-data");
      body.textContent = noValue ?? "No data";
      if (noValue === undefined) report.noData.push(panel.title);
      else report.drawn++;
      continue;
    }
    const fn = draw[panel.type];
    if (!fn) {
      body.textContent = `panel type "${panel.type}" is not drawn by the preview`;
      report.errors.push({ title: panel.title, errors: [`unsupported type ${panel.type}`] });
      continue;
    }
    try {
      fn(body, panel, item);
      report.drawn++;
    } catch (err) {
      body.textContent = `could not draw: ${err}`;
      report.errors.push({ title: panel.title, errors: [String(err)] });
    }
  }
  grid.style.height = `${bottom * (rowHeight + margin)}px`;
  window.previewReport = report;
  window.previewDone = true;
})();
