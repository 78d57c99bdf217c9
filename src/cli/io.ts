export { writeFileAtomic } from "../io.ts";
