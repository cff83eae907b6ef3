// The soundbox's voice: for each payment two short beeps, a buzz, then its sentence spoken with
// the Web Speech API, one payment after another (never one cut off by the next). Browsers allow
// sound only after a tap: `unlockSound()` runs on the first tap anywhere and on "Mulai terima".

const TAGS = { id: "id-ID", en: "en-GB" };
const BEEP_MS = 350;
const SILENT_MS = 700; // the pause after the beeps when nothing is spoken

let context = null;
let unlocked = false;
let release = null;
const unlocking = new Promise((resolve) => (release = resolve));
let chain = Promise.resolve();
let speaking = null; // the utterance being spoken, held so that Chrome cannot collect it early

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Allow sound from now on: call it in a tap. With `greeting`, say it at once (iOS lets speech
 * start only inside a tap), which also tells the driver the volume is up. */
export function unlockSound({ greeting = null, language = "id" } = {}) {
  const Audio = globalThis.AudioContext ?? globalThis.webkitAudioContext;
  if (!context && Audio) context = new Audio();
  if (context?.state === "suspended") context.resume().catch(() => {});
  unlocked = true;
  release();
  if (greeting) speak(greeting, language);
}

/** Whether a tap has allowed sound yet. */
export function soundUnlocked() {
  return unlocked;
}

/** Resolves on the first tap that allows sound. */
export function whenUnlocked() {
  return unlocking;
}

const normal = (tag) => String(tag ?? "").replace("_", "-").toLowerCase();

/**
 * How this phone can speak `language`: "voice" (it has one), "engine" (it lists no voice at all,
 * as some Android browsers do until asked: the engine picks one by `lang`), or "none" (no speech,
 * or voices of other languages only: an English voice reading Indonesian helps no one, so beeps).
 */
export function speechSupport(language) {
  return pickVoice(language).support;
}

function pickVoice(language) {
  const synth = globalThis.speechSynthesis;
  if (!synth || typeof globalThis.SpeechSynthesisUtterance !== "function") return { support: "none", voice: null };
  const voices = synth.getVoices?.() ?? [];
  // Older Android engines say "in-ID" (or "in_ID") for Indonesian.
  const codes = language === "en" ? ["en"] : ["id", "in"];
  const tag = normal(TAGS[language] ?? TAGS.id);
  const matching = voices.filter((voice) => codes.includes(normal(voice.lang).split("-")[0]));
  if (!matching.length) return { support: voices.length ? "none" : "engine", voice: null };
  const voice = matching.find((v) => normal(v.lang) === tag && v.localService) ?? matching.find((v) => normal(v.lang) === tag) ?? matching.find((v) => v.localService) ?? matching[0];
  return { support: "voice", voice };
}

/** Speak `text` now (the engine queues it behind whatever it is saying); resolves when it has
 * been said, or could not be: true if it was handed to a voice. */
function speak(text, language) {
  const { support, voice } = pickVoice(language);
  if (support === "none") return Promise.resolve(false);
  return new Promise((resolve) => {
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = TAGS[language] ?? TAGS.id;
    if (voice) utterance.voice = voice;
    let timer = null;
    const done = () => {
      clearTimeout(timer);
      if (speaking === utterance) speaking = null;
      resolve(true);
    };
    utterance.onend = done;
    utterance.onerror = done;
    // An engine that never says it has ended must not hold the next payment back for long.
    timer = setTimeout(done, 3000 + text.length * 150);
    speaking = utterance;
    if (speechSynthesis.paused) speechSynthesis.resume();
    speechSynthesis.speak(utterance);
  });
}

function beep() {
  navigator.vibrate?.([120, 60, 120]);
  if (!context) return;
  if (context.state === "suspended") context.resume().catch(() => {});
  const start = context.currentTime;
  [880, 1320].forEach((frequency, index) => {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.2, start + index * 0.15);
    gain.gain.exponentialRampToValueAtTime(0.001, start + index * 0.15 + 0.12);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start + index * 0.15);
    oscillator.stop(start + index * 0.15 + 0.13);
  });
}

/**
 * Announce one payment: beeps and a buzz, then `sentence` spoken in `language` ("id" or "en").
 * Queued behind the ones before it; resolves when it is over.
 */
export function announce(sentence, language = "id") {
  const run = chain.then(async () => {
    beep();
    await sleep(BEEP_MS);
    if (!(await speak(sentence, language))) await sleep(SILENT_MS);
  });
  chain = run.catch(() => {});
  return run;
}
