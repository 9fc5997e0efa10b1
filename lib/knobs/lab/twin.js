// Player for a knobs static twin: builds labelled controls, swaps precomputed frames.
(function () {
  function build(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var data = JSON.parse(root.querySelector(".knobs-twin-data").textContent);
    var panel = root.querySelector(".knobs-twin-controls");
    var img = root.querySelector(".knobs-twin-frame");
    var status = root.querySelector(".knobs-twin-status");
    var state = data.defaults.slice();
    var step = 0, timer = null, uid = root.id;

    function add(tag, attrs, parent) {
      var el = document.createElement(tag);
      for (var k in attrs) el.setAttribute(k, attrs[k]);
      (parent || panel).appendChild(el);
      return el;
    }
    function slider(label, n, value, onchange, values) {
      var id = uid + "-" + panel.children.length;
      var box = add("span", { "class": "knobs-twin-knob" });
      var lab = add("label", { "for": id }, box);
      lab.textContent = label + " ";
      var input = add("input", { type: "range", id: id, min: 0, max: n - 1, step: 1, value: value }, box);
      var out = add("output", { "for": id }, box);
      function sync() {
        var v = values ? values[input.value] : input.value;
        out.textContent = v;
        input.setAttribute("aria-valuetext", label + " " + v);
      }
      input.addEventListener("input", function () { onchange(+input.value); sync(); });
      sync();
      return { input: input, sync: sync };
    }
    function select(label, values, value, onchange) {
      var id = uid + "-" + panel.children.length;
      var box = add("span", { "class": "knobs-twin-knob" });
      add("label", { "for": id }, box).textContent = label + " ";
      var sel = add("select", { id: id }, box);
      values.forEach(function (v, i) { var o = add("option", { value: i }, sel); o.textContent = v; });
      sel.value = value;
      sel.addEventListener("change", function () { onchange(+sel.value); });
    }
    function show() {
      var frame = data.frames[state.join(",")][step];
      img.src = frame[0];
      img.alt = frame[1];
      status.textContent = frame[1];
    }
    data.controls.forEach(function (c, i) {
      var set = function (v) { state[i] = v; show(); };
      var numeric = c.values.every(function (v) { return !isNaN(parseFloat(v)); });
      if (c.values.length === 1) {
        // fixed in the precomputed twin: say so instead of showing a control that does nothing
        add("span", { "class": "knobs-twin-fixed" }).textContent = c.label + " " + c.values[0] + " (change it in the live lab)";
      } else if (numeric) slider(c.label, c.values.length, state[i], set, c.values);
      else select(c.label, c.values, state[i], set);
    });
    var stepper = slider("Step", data.steps.length, 0, function (v) { step = v; show(); }, data.steps);
    var play = add("button", { type: "button", "class": "knobs-twin-play" });
    play.textContent = "Play";
    function stop() {
      clearInterval(timer); timer = null; play.textContent = "Play";
      status.setAttribute("aria-live", "polite"); status.textContent = img.alt;  // announce where it stopped
    }
    play.addEventListener("click", function () {
      if (timer) return stop();
      if (step === data.steps.length - 1) step = 0;
      play.textContent = "Pause";
      status.setAttribute("aria-live", "off");  // a screen reader would otherwise read every frame while it plays
      timer = setInterval(function () {
        step += 1;
        stepper.input.value = step; stepper.sync(); show();
        if (step >= data.steps.length - 1) stop();
      }, 600);
    });
    var reset = add("button", { type: "button", "class": "knobs-twin-reset" });
    reset.textContent = "Reset";
    reset.addEventListener("click", function () { stop(); step = 0; stepper.input.value = 0; stepper.sync(); show(); });
    show();
  }
  function init() { document.querySelectorAll(".knobs-twin").forEach(build); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
