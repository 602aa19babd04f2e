// console.js is browser code served as it is: routes.ts imports it as text
// (`with { type: "text" }`), which is what this declaration describes.
declare const source: string;
export default source;
