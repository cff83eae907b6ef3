// The sound and the buzz that announce a payment. Browsers allow sound only after a tap, so
// `unlockSound()` runs on the first tap anywhere.

let context = null;

export function unlockSound() {
  if (context) return;
  const Audio = globalThis.AudioContext ?? globalThis.webkitAudioContext;
  if (Audio) context = new Audio();
}

/** Two short rising beeps and a vibration. */
export function announcePayment() {
  navigator.vibrate?.([120, 60, 120]);
  if (!context) return;
  if (context.state === "suspended") context.resume();
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
