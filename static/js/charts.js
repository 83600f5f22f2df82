/* The charts page: draws the charts from the page's json_script data, then fetches the
 * days the store lacks, a few per request, and reloads the page when they are in.
 * A file, not inline script: the Content-Security-Policy will allow no inline code.
 * Text from the server goes into the page through textContent only. */
(function () {
  "use strict";

  var source = document.getElementById("charts-data");
  if (!source) {
    return;
  }
  var data = JSON.parse(source.textContent);
  var text = data.text;

  // A level's colour is its place in data.levels (sorted by name), so the stacked bars
  // and the doughnut agree, and a level keeps its colour from one range to the next.
  var LEVEL_COLOURS = ["#1d6fb8", "#e07b39", "#2e9e6a", "#8e5cc4", "#c9a227",
                       "#d1495b", "#4fb3bf", "#6b7a8f", "#a0522d", "#7cb342"];
  var ANSWERED = "#1e7b4d";
  var NOT_ANSWERED = "#c3cdd8";
  var FEES = "#1d6fb8";
  var RATE = "#b42318";
  var TICK = "#616e7c";
  var GAP_TICK = "#b42318";

  function numberFormat(options) {
    try {
      return new Intl.NumberFormat(document.documentElement.lang || undefined, options);
    } catch (error) {
      return new Intl.NumberFormat(undefined, options);
    }
  }
  var whole = numberFormat({maximumFractionDigits: 0});
  var tenths = numberFormat({minimumFractionDigits: 1, maximumFractionDigits: 1});
  var yuan = numberFormat({minimumFractionDigits: 2, maximumFractionDigits: 2});

  // Fills Python-style "%(name)s" placeholders of the translated strings.
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    }).replace(/%%/g, "%");
  }

  function calls(value) {
    return fill(text.calls, {n: whole.format(value)});
  }

  function money(value) {
    // Display only: the exact amounts stay strings in the data and the table.
    return "¥" + yuan.format(Number(value));
  }

  function openDay(index) {
    if (data.gaps[index]) {
      return;
    }
    var day = data.days[index];
    var query = new URLSearchParams({account: data.account, date_from: day, date_to: day});
    window.location.href = data.urls.calls + "?" + query.toString();
  }

  var oneYear = data.days.length > 0 &&
    data.days[0].slice(0, 4) === data.days[data.days.length - 1].slice(0, 4);

  function dayAxis(extra) {
    return Object.assign({
      ticks: {
        // Gap days are marked on the axis: their empty slot is not a quiet day.
        color: function (context) { return data.gaps[context.index] ? GAP_TICK : TICK; },
        callback: function (value, index) {
          var day = data.days[index];
          return oneYear ? day.slice(5) : day;
        }
      }
    }, extra || {});
  }

  function countAxis(extra) {
    return Object.assign({
      beginAtZero: true,
      title: {display: true, text: text.calls_axis},
      ticks: {precision: 0, callback: function (value) { return whole.format(value); }}
    }, extra || {});
  }

  function dayTitle(items) {
    var index = items[0].dataIndex;
    return data.days[index] + (data.gaps[index] ? " (" + text.gap + ")" : "");
  }

  function options(extra) {
    return Object.assign({
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: {mode: "index", intersect: false}
    }, extra);
  }

  var clickable = {
    onClick: function (event, elements) {
      if (elements.length) {
        openDay(elements[0].index);
      }
    },
    onHover: function (event, elements) {
      event.native.target.style.cursor = elements.length ? "pointer" : "default";
    }
  };

  function drawDailyCalls(canvas) {
    return new Chart(canvas, {
      type: "bar",
      data: {labels: data.days, datasets: [
        {label: text.answered, data: data.answered, backgroundColor: ANSWERED},
        {label: text.not_answered, data: data.not_answered, backgroundColor: NOT_ANSWERED}
      ]},
      options: options(Object.assign({
        scales: {x: dayAxis({stacked: true}), y: countAxis({stacked: true})},
        plugins: {tooltip: {callbacks: {
          title: dayTitle,
          label: function (item) { return item.dataset.label + ": " + calls(item.raw); },
          footer: function (items) {
            var index = items[0].dataIndex;
            if (data.calls[index] === null) {
              return "";
            }
            return [calls(data.calls[index]),
                    fill(text.talk, {n: tenths.format(data.talk_minutes[index])})];
          }
        }}}
      }, clickable))
    });
  }

  function drawDailyFees(canvas) {
    return new Chart(canvas, {
      data: {labels: data.days, datasets: [
        {type: "line", label: text.answer_rate, data: data.answer_rate, yAxisID: "rate",
         borderColor: RATE, backgroundColor: RATE, pointRadius: 2, spanGaps: false, order: 0},
        {type: "bar", label: text.fees, yAxisID: "y", backgroundColor: FEES, order: 1,
         data: data.fees.map(function (fee) { return fee === null ? null : Number(fee); })}
      ]},
      options: options(Object.assign({
        scales: {
          x: dayAxis(),
          y: {beginAtZero: true, title: {display: true, text: text.fees_axis},
              ticks: {callback: function (value) { return money(value); }}},
          rate: {position: "right", min: 0, max: 100, grid: {drawOnChartArea: false},
                 title: {display: true, text: text.rate_axis},
                 ticks: {callback: function (value) { return value + "%"; }}}
        },
        plugins: {tooltip: {callbacks: {
          title: dayTitle,
          label: function (item) {
            if (item.dataset.yAxisID === "rate") {
              return text.answer_rate + ": " + tenths.format(item.raw) + "%";
            }
            return text.fees + ": " + money(data.fees[item.dataIndex]);
          }
        }}}
      }, clickable))
    });
  }

  function levelColour(index) {
    return LEVEL_COLOURS[index % LEVEL_COLOURS.length];
  }

  function drawDailyLevels(canvas) {
    return new Chart(canvas, {
      type: "bar",
      data: {labels: data.days, datasets: data.levels.map(function (level, index) {
        return {label: level.name, data: level.calls, backgroundColor: levelColour(index)};
      })},
      options: options(Object.assign({
        scales: {x: dayAxis({stacked: true}), y: countAxis({stacked: true})},
        plugins: {tooltip: {callbacks: {
          title: dayTitle,
          label: function (item) { return item.dataset.label + ": " + calls(item.raw); }
        }}}
      }, clickable))
    });
  }

  function drawLevelShare(canvas) {
    var total = data.levels.reduce(function (sum, level) { return sum + level.total; }, 0);
    return new Chart(canvas, {
      type: "doughnut",
      data: {
        labels: data.levels.map(function (level) { return level.name; }),
        datasets: [{
          data: data.levels.map(function (level) { return level.total; }),
          backgroundColor: data.levels.map(function (level, index) { return levelColour(index); })
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {legend: {position: "right"}, tooltip: {callbacks: {
          label: function (item) {
            return item.label + ": " + fill(text.share, {
              n: whole.format(item.raw), share: tenths.format(total ? item.raw * 100 / total : 0)
            });
          }
        }}}
      }
    });
  }

  function drawHours(canvas) {
    var hours = data.hours.map(function (hour, index) { return (index < 10 ? "0" : "") + index; });
    return new Chart(canvas, {
      type: "bar",
      data: {labels: hours, datasets: [
        {label: text.answered, backgroundColor: ANSWERED,
         data: data.hours.map(function (hour) { return hour.answered; })},
        {label: text.not_answered, backgroundColor: NOT_ANSWERED,
         data: data.hours.map(function (hour) { return hour.calls - hour.answered; })}
      ]},
      options: options({
        scales: {
          x: {stacked: true, title: {display: true, text: text.hour_axis}},
          y: countAxis({stacked: true})
        },
        plugins: {tooltip: {callbacks: {
          title: function (items) { return items[0].label + ":00–" + items[0].label + ":59"; },
          label: function (item) { return item.dataset.label + ": " + calls(item.raw); }
        }}}
      })
    });
  }

  function drawCharts() {
    if (typeof Chart === "undefined") {
      return;
    }
    var charts = {
      "chart-daily-calls": drawDailyCalls,
      "chart-daily-fees": drawDailyFees,
      "chart-daily-levels": drawDailyLevels,
      "chart-level-share": drawLevelShare,
      "chart-hours": drawHours
    };
    Object.keys(charts).forEach(function (id) {
      var canvas = document.getElementById(id);
      if (canvas) {
        charts[id](canvas);
      }
    });
  }

  // Fetches the days the page lists as missing or stale, data.sync.batch per request,
  // so each request ends within the server's page budget; reloads when all are in.
  function fetchPendingDays() {
    var box = document.getElementById("sync-progress");
    var days = data.sync.days.slice();
    if (!box || !days.length) {
      return;
    }
    var bar = box.querySelector("progress");
    var status = box.querySelector(".progress-text");
    var problems = box.querySelector(".progress-errors");
    var token = box.querySelector("input[name=csrfmiddlewaretoken]").value;
    var total = days.length;
    var done = 0;
    var settled = 0;
    var retried = {};

    function show() {
      bar.value = done;
      status.textContent = fill(text.progress, {done: whole.format(done), total: whole.format(total)});
    }

    function problem(message) {
      var item = document.createElement("li");
      item.textContent = message;
      problems.appendChild(item);
    }

    function record(result) {
      if (result.status === "skipped" && !retried[result.day]) {
        retried[result.day] = true;  // out of time: once more, in a later batch
        days.push(result.day);
        return;
      }
      done += 1;
      if (result.status !== "skipped") {
        settled += 1;
      }
      if (result.error) {
        problem(result.day + ": " + result.error);
      }
    }

    function next() {
      if (!days.length) {
        if (settled) {
          status.textContent = text.reloading;
          window.location.reload();
        } else {
          problem(text.not_in_time);
        }
        return;
      }
      var body = new URLSearchParams();
      body.append("account", data.account);
      days.splice(0, data.sync.batch).forEach(function (day) { body.append("day", day); });
      fetch(data.urls.sync, {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"X-CSRFToken": token, "Accept": "application/json"}
      }).then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        // An expired session is redirected to the login page, which is not JSON.
        if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
          throw new Error(text.signed_out);
        }
        return response.json();
      }).then(function (answer) {
        answer.days.forEach(record);
        show();
        next();
      }).catch(function (error) {
        problem(fill(text.stopped, {error: error.message}));
      });
    }

    show();
    next();
  }

  // Fetching first: a chart that fails to draw must not stop the missing days coming in.
  fetchPendingDays();
  drawCharts();
}());
