// Static dashboard files are imported as text so `bun build --compile` embeds them
// (bun-types already declares *.html, as an HTML bundle; routes.ts casts it).
declare module "*.css" {
  const text: string;
  export default text;
}
